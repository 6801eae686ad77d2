"""Dockerfiles and build.sh for the mgexec runtime images, shipped as package data."""
