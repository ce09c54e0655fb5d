//! Authentication (HS256 user JWTs, admin key) and role/tier extractors.
