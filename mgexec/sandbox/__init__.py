"""srt mode: commands in a bubblewrap sandbox on the host, with network through a filtering proxy."""
