"""The one table from the product's error codes (fazt.errors.FaztError) to HTTP statuses.

A code not listed is a client mistake (400). The server's exception handlers use
`http_error` for every FaztError a handler lets through; the dashboard uses `status_of`
to show the same refusal on a page.
"""

from fazt.errors import FaztError
from fazt.web.http import HTTPError

STATUS = {
    # A warm standby refuses writes until promoted (fazt.backup.standby)
    "STANDBY_READ_ONLY": 503,
    # Deploys (fazt.hosting.deployments, fazt.hosting.archive)
    "APP_NOT_FOUND": 404,
    "DEPLOYMENT_NOT_FOUND": 404,
    "CONFLICT": 409,
    "BLOBS_MISSING": 409,
    "NO_PREVIOUS_DEPLOYMENT": 409,
    "FILE_TOO_LARGE": 413,
    "TOO_MANY_FILES": 413,
    "DEPLOY_TOO_LARGE": 413,
    # Resumable uploads (fazt.hosting.uploads)
    "SITE_TOO_LARGE": 413,
    "UPLOAD_TOO_LARGE": 413,
    "UPLOAD_NOT_FOUND": 404,
    "OFFSET_MISMATCH": 409,
    # The disk holding the database (fazt.db.disk)
    "INSUFFICIENT_STORAGE": 507,
    "READ_ONLY_STORAGE": 503,
    # Blobs kept in object storage (fazt.hosting.blob_remote)
    "BLOB_STORE_UNAVAILABLE": 503,
    "BLOB_STORE_CORRUPT": 502,
    "STORAGE_IO_ERROR": 500,
    # Visitors signing in to apps (fazt.auth.visitors, fazt.auth.oidc)
    "USER_NOT_FOUND": 404,
    "PROVIDER_NOT_FOUND": 404,
    "TOO_MANY_SIGN_INS": 429,
    "PROVIDER_UNAVAILABLE": 502,
    # Inbound webhook signatures (fazt.analytics.webhooks)
    "INVALID_SIGNATURE": 401,
    "REPLAYED_SIGNATURE": 401,
    "STALE_SIGNATURE": 401,
    "WEBHOOK_BUSY": 503,
    # Releases and upgrades (fazt.release): the release source failed, not the caller.
    "RELEASE_SOURCE_ERROR": 502,
    "SIGNATURE_INVALID": 502,
    "CHECKSUM_MISMATCH": 502,
    "DOWNLOAD_ERROR": 502,
    "INSTALL_ERROR": 502,
    "VERSION_NOT_FOUND": 404,
    "ASSET_NOT_FOUND": 404,
    # Resized image variants (fazt.hosting.image_query, image_variants); bad w/format: 400
    "IMAGE_TOO_LARGE": 422,
    "IMAGE_UNREADABLE": 422,
    "IMAGE_BUSY": 503,
}


def status_of(exc: FaztError) -> int:
    return STATUS.get(exc.code, 400)


def http_error(exc: FaztError) -> HTTPError:
    return HTTPError(status_of(exc), exc.code, exc.message)
