"""The image layout cache: entries keyed by a content-addressed image id and by what was checked."""

from __future__ import annotations

from mgexec.docker.imagecache import CACHE_DIR_ENV, LayoutCache, cache_dir

IMAGE = "sha256:" + "ab" * 32


def test_an_id_is_proven_only_once_remembered_and_only_for_the_same_check(tmp_path):
    cache = LayoutCache(["script", "1000"], root=tmp_path)
    assert not cache.proven(IMAGE)
    cache.remember(IMAGE)
    assert cache.proven(IMAGE) and cache.proven("ab" * 32)  # podman prints the id without the prefix
    assert not cache.proven("sha256:" + "cd" * 32)
    assert not LayoutCache(["script", "1000", "/context"], root=tmp_path).proven(IMAGE)


def test_anything_but_a_content_addressed_id_is_never_trusted(tmp_path):
    cache = LayoutCache(["script"], root=tmp_path)
    for odd in (None, "", "myimage:latest", "sha256:../../etc", "ab" * 31, IMAGE + "\n"):
        cache.remember(odd)
        assert not cache.proven(odd)
    assert not (tmp_path / "image-layout").exists()


def test_an_unwritable_cache_costs_only_the_check(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = LayoutCache(["script"], root=blocker)  # its directory cannot be made under a file
    cache.remember(IMAGE)
    assert not cache.proven(IMAGE)


def test_where_the_cache_lives():
    assert cache_dir({CACHE_DIR_ENV: "/x/y", "XDG_CACHE_HOME": "/c"}).as_posix() == "/x/y"
    assert cache_dir({"XDG_CACHE_HOME": "/c"}).as_posix() == "/c/mgexec"
    assert cache_dir({}).name == "mgexec" and cache_dir({}).parent.name == ".cache"
