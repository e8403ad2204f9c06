"""Jobs: what a user runs (search, run, oneshot, transfer, calibrate), each a config, a
folder and steps."""
