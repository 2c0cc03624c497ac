"""Box records, the Parquet label table, WSOD/SSOD subsampling."""
