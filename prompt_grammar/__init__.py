"""The packaged prompt grammar (vocabulary.yaml + templates/); data only."""
