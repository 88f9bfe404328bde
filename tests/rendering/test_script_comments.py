"""A value with a line break can never escape a generated script's comment line (issue 9).

Validation at the edge refuses such values (tests/config/test_bad_inputs.py); these tests bypass
it and show the script renderers refuse too, and that a refused value would indeed have run: the
same text with the guard removed creates a marker file when bash runs it.
"""

from __future__ import annotations

import subprocess

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering.dns_scripts import RecordSpec, delete_script, ensure_script
from rendering.host_files import host_paths
import rendering.host_scripts as hs


def _bypass(tmp_path, **changes):
    s = load_stack_inputs("dev").settings()
    lit = {k: v for k, v in changes.items() if k != "cert_dir"}
    update = {"litellm": s.litellm.model_copy(update=lit)}
    if "cert_dir" in changes:
        update["tls"] = s.tls.model_copy(update={"cert_dir": changes["cert_dir"]})
    return s.model_copy(update=update)


@pytest.mark.slow
@pytest.mark.parametrize("field", ["config_dir", "cert_dir"])
def test_a_line_break_in_a_directory_is_refused_by_the_script_renderer(tmp_path, field):
    marker = tmp_path / "marker"
    s = _bypass(tmp_path, **{field: f"/etc/litellm\ntouch {marker}\n#"})
    p = host_paths(s)
    target = p.config_file if field == "config_dir" else p.tls_cert_file
    with pytest.raises(ValueError, match="line break in a script header"):
        hs.write_file_script(target, "0640", "root", "litellm")
    # what the guard prevents: the header comment ends at the line break and bash runs the rest
    unguarded = f"#!/bin/bash\n# litellm-gateway: write {target} (mode 0640) from stdin\ntrue\n"
    subprocess.run(["bash", "-c", unguarded], check=True)
    assert marker.exists()


@pytest.mark.parametrize(
    "field,value",
    [("server", "dc.hx.dev.local\ntouch /tmp/x"), ("zone", "hx.dev.local\n"), ("name", "litellm\n"), ("value", "host.hx.dev.local\n")],
)
def test_dns_record_values_are_full_matches(field, value):
    spec = dict(server="dc.hx.dev.local", zone="hx.dev.local", name="litellm", record_type="CNAME",
                value="host.hx.dev.local", auth="authfile")
    spec[field] = value
    with pytest.raises(ValueError):
        RecordSpec(**spec)
    good = RecordSpec(**{**spec, field: value.split("\n")[0]})
    for script in (ensure_script(good), delete_script(good)):
        assert script.splitlines()[0].startswith("# litellm-gateway DnsRecord ")
