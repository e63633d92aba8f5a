"""The limits a deploy is checked against (settings deploy_*, docs/configuration.md).

Apart from the ZIP reader (archive.py) so that the server, which holds them from its
start, does not load zipfile and lzma before its first deploy (idle memory, issue 22).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DeployLimits:
    max_upload_bytes: int
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_ratio: int
