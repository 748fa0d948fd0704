"""Stage 5, the cut: ffmpeg (the only package that starts it), timeline maths, cards and captions.

Import the module you need (`wanflow.media.cut`, `wanflow.media.ffmpeg`, ...): this face
imports nothing, so reading a probe does not pull in Pillow and the fonts.
"""
