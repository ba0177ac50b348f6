"""Reading the words: segmentation with exact offsets, ConText-style context (negated, planned,
historical, someone else), shorthand and the cue lexicons of change, polarity and agency."""
