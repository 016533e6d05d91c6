"""The converted tree written to disk instead of a server (writer.py): to look at, and to compare
with readpst."""
