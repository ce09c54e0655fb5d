//! HTTP conventions: problem+json errors, CORS, body limits, request ids.
