"""Side-by-side speed benchmarks (``sciml bench NAME``)."""
