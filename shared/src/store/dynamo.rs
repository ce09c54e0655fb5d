//! DynamoDB backend of the store.
