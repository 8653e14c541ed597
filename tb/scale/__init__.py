"""Running many independent runs: the Dask execution engine (:mod:`tb.scale.engine`), result stores
that are written atomically and merged under a lock (:mod:`tb.scale.store`), one directory per run
(:mod:`tb.scale.run_dir`) and clean stops on SIGINT/SIGTERM (:mod:`tb.scale.signals`)."""
