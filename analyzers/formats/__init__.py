"""The file and line formats joulebench reads and writes, each defined once.

- `ptd_time`: PTD's `MM-DD-YYYY HH:MM:SS.mmm` wall-clock stamps, both ways, one or a million at a time.
- `sample_layout`: the shapes of a PTD sample line (`spl.txt`, the daemon's data log, `RL` replies,
  the director's merge of several analyzers), described as data.
- `sample_encode` / `sample_decode`: the one encoder and the one decoder those layouts drive
  (`sample_fast`: the decoder's byte-level path for time and total watts).
- `mlperf_layout`: the names of an MLPerf power folder's parts; `units`: time constants.
- `atomic`: replacing a file so that no reader ever sees half of it.
"""
