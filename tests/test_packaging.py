import os
import subprocess
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_ships_every_properties_yaml(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), REPO], check=True, cwd=tmp_path, timeout=300)
    wheel = next(p for p in os.listdir(tmp_path) if p.endswith(".whl"))
    names = set(zipfile.ZipFile(tmp_path / wheel).namelist())
    expected = {
        "recbole_bert4rec/properties/" + os.path.relpath(os.path.join(folder, name), os.path.join(REPO, "properties"))
        for folder, _, files in os.walk(os.path.join(REPO, "properties")) for name in files if name.endswith(".yaml")
    }
    assert "recbole_bert4rec/properties/model/BERT4Rec.yaml" in expected
    assert expected <= names, expected - names
