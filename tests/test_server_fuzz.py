"""A bounded property-based fuzz run of the real app from its published OpenAPI description
(schemathesis): no 5xx answer, no crash, and every answer conforming to the description."""

from __future__ import annotations

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

from server.app import create_app
from server.config import Config
from server.inference import load_predictor
from tests.helpers import fixture_faces


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.open(fixture_faces("fake")[0]).save(buf, fmt)
    return buf.getvalue()


# Raw bodies: real faces (so the model runs), damaged ones and noise, for each image type listed.
_JPEG = fixture_faces("real")[0].read_bytes()
for _media_type, _sample in (("image/jpeg", _JPEG), ("image/bmp", _encoded("BMP")),
                             ("image/tiff", _encoded("TIFF"))):
    schemathesis.openapi.media_type(_media_type, st.one_of(
        st.just(_sample), st.integers(1, len(_sample) - 1).map(lambda n, s=_sample: s[:n]),
        st.binary(min_size=1, max_size=4096)))


@pytest.fixture(scope="module")
def api_schema():
    app = create_app(Config.from_env(environ={}, max_images=4, max_request_bytes=2_000_000),
                     predictor=load_predictor())
    # Too many images is answered 413 (like too many bytes): a rejection of schema-invalid data.
    rejected = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": rejected}}})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Truncated File Read")
@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_fuzz(case):
    response = case.call_and_validate()
    assert response.status_code < 500
