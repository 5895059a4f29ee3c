"""``fastdilate bench``: fastdilate against its peers, one module per concern.

- ``cases``: the named cases, their reduced sizes and inputs
- ``sweep``: the randomised sweep's distribution of layer shapes
- ``peers``: every other way to compute a case, and the check of its result
- ``timing``: interleaved timing, BLAS thread caps, the machine's peaks
- ``report``: environment facts, the table and its legend, JSON, plot
- ``memory``: peak resident memory of one call, in a fresh process
- ``run``: the whole run and the command line's entry points

Nothing here is imported by ``import fastdilate``; optional peers and tools
are imported inside the functions that use them.
"""
