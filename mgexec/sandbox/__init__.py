"""srt mode: commands in a bubblewrap sandbox on the host (files, network and processes contained), the
network only through a filtering proxy."""
