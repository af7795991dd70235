//! Requirement catalogue, checks, generators and role drivers.
