"""Pieces without HTTP: upload checks, the diagram layout, the users source's reach (U1)."""
from __future__ import annotations

import io
import zipfile

import pytest

from app.modules.portal import diagram, sources, uploads
from tests.portal.conftest import DATA, user

pytestmark = pytest.mark.req("U1")


def _image(fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3, 3), (0, 0, 0)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("name, fmt", [("a.jpg", "JPEG"), ("a.jpeg", "JPEG"), ("a.png", "PNG"), ("a.gif", "GIF"),
                                       ("a.webp", "WEBP"), ("A.PNG", "PNG")])
def test_images_by_content(ctx, name, fmt):
    assert uploads.check(name, _image(fmt), 5).mime.startswith("image/")


def test_an_image_with_the_wrong_extension_is_refused(ctx):
    with pytest.raises(uploads.UploadRefused):
        uploads.check("photo.jpg", _image("PNG"), 5)


def test_office_files_need_their_main_part(ctx):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<x/>")
    assert uploads.check("a.docx", out.getvalue(), 5).mime.endswith("wordprocessingml.document")
    with pytest.raises(uploads.UploadRefused):
        uploads.check("a.xlsx", out.getvalue(), 5)  # a Word file renamed .xlsx


def test_path_parts_of_names_are_dropped(ctx):
    assert uploads.check("..\\..\\etc/证明.pdf", b"%PDF-1.7\n", 5).name == "证明.pdf"


def test_layout_for_a_process_without_diagram_information():
    from lxml import etree

    from app.workflow import layout

    xml = (DATA / "portal_application.bpmn").read_text(encoding="utf-8")
    bare = xml[:xml.index("<bpmndi:BPMNDiagram")] + "</bpmn:definitions>\n"
    laid = diagram.with_layout(bare)
    root = etree.fromstring(laid.encode())
    shapes = {el.get("bpmnElement"): el[0] for el in root.iter(f"{{{layout.BPMNDI_NS}}}BPMNShape")}
    assert set(shapes) == {"submitted", "head_review", "countersign", "decided", "approved", "rejected"}
    x = {key: float(bounds.get("x")) for key, bounds in shapes.items()}
    assert x["submitted"] < x["head_review"] < x["countersign"] < x["decided"] < x["approved"]
    edges = list(root.iter(f"{{{layout.BPMNDI_NS}}}BPMNEdge"))
    assert len(edges) == 5 and all(len(edge) >= 2 for edge in edges)
    assert diagram.with_layout(xml) == xml  # drawn ones are left alone


def test_layout_survives_loops():
    from app.workflow.extensions import BPMN_NS

    xml = (f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d"><bpmn:process id="p" isExecutable="true">'
           '<bpmn:startEvent id="s"/><bpmn:userTask id="a"/><bpmn:exclusiveGateway id="g"/>'
           '<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="g"/><bpmn:sequenceFlow id="f3" sourceRef="g" '
           'targetRef="a"/><bpmn:sequenceFlow id="f4" sourceRef="g" targetRef="e"/></bpmn:process>'
           '</bpmn:definitions>')
    laid = diagram.with_layout(xml)
    assert laid.count("BPMNShape") >= 4 and laid.count("BPMNEdge") >= 4


def test_the_users_source_follows_the_searchers_reach(flow):
    doctor, head, medaffairs = user("doctor"), user("head"), user("medaffairs")
    outsider = user("expert")  # 心血管内科
    assert outsider.id not in sources.resolve_users([outsider.id], head)
    assert outsider.id in sources.resolve_users([outsider.id], medaffairs)
    colleague = flow.signers[0]
    assert colleague.id in sources.resolve_users([colleague.id], doctor)  # own department
    assert outsider.id not in {o["value"] for o in sources.search_users("", 200, doctor)}
    found = sources.search_users(colleague.staff.employee_no, 5, head)
    assert [o["value"] for o in found] == [colleague.id] and colleague.staff.employee_no in found[0]["label"]
