//! Files → validated series (placeholder; being written).
