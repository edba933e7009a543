import numpy as np
import pytest
from PIL import Image

from facecheck.images import ImageError, iter_image_files, load_image
from tests.helpers import fixture_faces


def test_decodes_a_real_face_to_rgb_uint8():
    img = load_image(fixture_faces("real")[0])
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[:2] == (300, 300)
    assert 30 < img.mean() < 230


def test_bytes_and_path_give_the_same_pixels():
    path = fixture_faces("fake")[0]
    assert np.array_equal(load_image(path), load_image(path.read_bytes()))


def test_bad_input_corpus(bad_inputs):
    folder, expected = bad_inputs
    for name, error in expected.items():
        if error is None:
            img = load_image(folder / name)
            assert img.dtype == np.uint8 and img.shape[2] == 3, name
        else:
            with pytest.raises(ImageError, match=error):
                load_image(folder / name)


def test_exif_orientation_is_applied(bad_inputs):
    folder, _ = bad_inputs
    upright = load_image(fixture_faces("real")[0])
    rotated = load_image(folder / "exif_rotated.jpg")
    assert rotated.shape == upright.shape
    # JPEG re-encoding changes pixels a little, not the picture.
    assert np.abs(rotated.astype(int) - upright.astype(int)).mean() < 4


def test_alpha_is_flattened_on_white(bad_inputs):
    folder, _ = bad_inputs
    img = load_image(folder / "alpha.png")
    assert (img[:, :10] == 255).all()


def test_sixteen_bit_png_is_scaled_not_clipped(bad_inputs):
    folder, _ = bad_inputs
    img = load_image(folder / "sixteen_bit.png")
    grey = load_image(folder / "grey.jpg")
    assert abs(float(img.mean()) - float(grey.mean())) < 3


def test_cmyk_jpeg_keeps_its_colours(bad_inputs):
    folder, _ = bad_inputs
    rgb = load_image(fixture_faces("real")[0]).astype(int)
    cmyk = load_image(folder / "cmyk.jpg").astype(int)
    assert cmyk.shape == rgb.shape
    # Not inverted, not channel-swapped: per-channel means and pixels match the RGB original.
    assert np.abs(cmyk.mean(axis=(0, 1)) - rgb.mean(axis=(0, 1))).max() < 3
    assert np.abs(cmyk - rgb).mean() < 5


def test_animated_gif_gives_its_first_frame(tmp_path):
    red, blue = (Image.new("RGB", (64, 64), c) for c in ((220, 20, 20), (20, 20, 220)))
    red.save(tmp_path / "anim.gif", save_all=True, append_images=[blue], duration=100, loop=0)
    img = load_image(tmp_path / "anim.gif")
    assert img.shape == (64, 64, 3)
    assert img[..., 0].mean() > 200 and img[..., 2].mean() < 40


def test_webp_decodes_to_the_same_pixels(tmp_path):
    face = Image.open(fixture_faces("fake")[3]).convert("RGB")
    face.save(tmp_path / "face.webp", "WEBP", lossless=True)
    assert np.array_equal(load_image(tmp_path / "face.webp"), np.asarray(face))


def test_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "nope.jpg")


def test_iter_image_files_recurses_and_keeps_named_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.JPG").write_bytes(b"1")
    (tmp_path / "a" / "readme.txt").write_text("hi")
    named = tmp_path / "named.dat"
    named.write_text("?")
    files = iter_image_files([tmp_path / "a", named])
    assert [f.name for f in files] == ["x.JPG", "named.dat"]
