"""Pose2Vid: skeletons to a video of a person (Everybody Dance Now, adapted).

The generated OpenPose-18 skeletons are mapped onto a subject's body (``normalize``) and turned
into frames of that subject; ``person`` draws the built-in synthetic subject, whose true frame
is known for any pose; ``detect`` takes a real subject's poses from its video alone.
"""
