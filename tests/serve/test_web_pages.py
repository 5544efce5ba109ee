"""The web app's plugin pages in real headless Chromium against a real uvicorn server: Rank (the ranking lands in
the store's rankings and examples, as `selfclone rank` stores it), Review (keep and edit become examples, the edit a
preference pair), Train (upload, the doctor's findings, a job on a tiny model run by the real worker process, the
progress bar and curves), Models (the clone and a report), the translation beside the original on the chat page,
and one model pool for the chat page and /v1. Screenshots go to /tmp/web-shots/."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import pytest

from selfclone.backends.registry import open_backend
from selfclone.config import GenerationOptions, TranslateSettings
from selfclone.persona.conversations import save_conversation
from selfclone.persona.translation import open_translation
from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool
from selfclone.serve.api.server import job_worker
from selfclone.serve.background import background_server
from selfclone.serve.bot_conversations import BotConversations
from selfclone.serve.web.app import create_web_app

SHOTS = Path("/tmp/web-shots")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def web(ws):
    """`web(api=None, api_key=None, translation=None)` serves the web app of `ws` with the echo Backend."""
    with contextlib.ExitStack() as servers:
        def start(api=None, api_key=None, translation=None):
            people = BotConversations(open_backend("echo", "echo"), GenerationOptions(max_tokens=20), channel="web",
                                      model="echo", store=ws.store, idle_seconds=0, translation=translation)
            app = create_web_app(people, model="echo", api_key=api_key, api=api, workspace=ws)
            return servers.enter_context(background_server(app))

        yield start


def rows(ws, sql):
    with ws.store() as store:
        return [dict(r) for r in store.db.execute(sql)]


def test_rank_a_prompt_by_keyboard_and_drag_then_edit_the_best(web, browser, ws, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("how are the bees?\nwhat is for dinner?\n")
    page = browser.new_page()
    page.goto(web() + "/rank")
    page.get_by_label("Prompts file").fill(str(prompts))
    page.get_by_label("Replies per prompt").fill("3")
    page.get_by_role("button", name="Next prompt").click()
    page.locator("#candidates li").nth(2).wait_for()
    texts = lambda: [t.strip() for t in page.locator("#candidates li .text").all_text_contents()]
    assert texts() == [f"echo: how are the bees? #{i}" for i in range(3)]
    page.get_by_role("button", name="Move reply 3 up").focus()
    page.keyboard.press("Enter")                               # a button, by keyboard: reply 3 goes above 2
    page.locator("#candidates li").nth(0).press("Alt+ArrowDown")   # and reply 1 below what follows it
    assert texts() == [f"echo: how are the bees? #{i}" for i in (2, 0, 1)]
    assert page.locator("#moved").text_content() == "Reply 1 is now in place 2"      # said aloud to screen readers
    page.locator("#candidates li").nth(2).drag_to(page.locator("#candidates li").nth(0), target_position={"x": 5, "y": 2})
    assert texts()[0] == "echo: how are the bees? #1"           # dragged to the top
    shot(page, "rank")
    page.get_by_role("button", name="Save this order").click()
    page.wait_for_function("document.querySelector('#prompt li') && "
                           "document.querySelector('#prompt li:last-child').textContent.includes('dinner')")
    page.get_by_role("button", name="Edit the best one").click()
    assert page.get_by_label("What you would really say").input_value() == "echo: what is for dinner? #0"
    page.get_by_label("What you would really say").fill("stew again, sorry")
    page.get_by_role("button", name="Save the edit as a training example").click()
    page.wait_for_function("document.getElementById('progress').textContent.startsWith('Nothing left')")
    assert "2 ranked" in page.locator("#progress").text_content()
    ranked = rows(ws, "select kind, order_json, edited, model from rankings order by id")
    assert [(r["kind"], json.loads(r["order_json"]), r["edited"]) for r in ranked] == [
        ("order", [1, 2, 0], None), ("edit", [0], "stew again, sorry")]
    assert ranked[0]["model"] == "echo"
    example = rows(ws, "select messages_json from examples where source = 'rank'")
    assert json.loads(example[0]["messages_json"])[-1] == {"role": "assistant", "content": "stew again, sorry"}


def test_review_keeps_and_edits_the_clones_replies(web, browser, ws):
    with ws.store() as store:
        save_conversation(store, "echo", "chat", [{"role": "user", "content": "tea or coffee?"},
                                                  {"role": "assistant", "content": "tea, always"},
                                                  {"role": "user", "content": "how do you take it?"},
                                                  {"role": "assistant", "content": "with lemon"}])
    page = browser.new_page()
    page.goto(web() + "/review")
    page.get_by_text("tea, always").wait_for()
    assert "2 replies to review" in page.locator("#left").text_content()
    shot(page, "review")
    page.get_by_role("button", name="Keep").click()
    page.locator("#reply", has_text="with lemon").wait_for()
    page.get_by_label("What you would have said").fill("stewed, milk after")
    page.get_by_role("button", name="Save my edit").click()
    page.locator("#done").wait_for(state="visible")
    examples = [json.loads(r["messages_json"]) for r in rows(ws, "select messages_json from examples "
                                                                 "where source = 'review' order by id")]
    assert [e[-1]["content"] for e in examples] == ["tea, always", "stewed, milk after"]
    assert examples[1][-2] == {"role": "user", "content": "how do you take it?"}
    [pair] = rows(ws, "select kind, edited, candidates_json from rankings")
    assert pair["kind"] == "edit" and pair["edited"] == "stewed, milk after"
    assert json.loads(pair["candidates_json"]) == ["with lemon"]


@pytest.mark.slow
def test_train_upload_doctor_job_progress_and_curves_then_models(web, browser, ws, tiny_model_dir, tmp_path):
    lines = [json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                      {"role": "assistant", "content": f"answer {i}, over."}]}) for i in range(12)]
    data, broken = tmp_path / "me.jsonl", tmp_path / "broken.jsonl"
    data.write_text("\n".join(lines + lines[:1]) + "\n")                      # one exact duplicate for the doctor
    broken.write_text("\n".join(lines[:2] + ['{"messages": [{"role": "user"'] + lines[2:]) + "\n")
    api = create_app(ModelPool(backend="transformers", workspace_runs=ws.runs_dir), api_key="k",
                     store_path=ws.store_path)
    url = web(api=api, api_key="k")
    page = browser.new_page()
    page.goto(url + "/train")
    page.get_by_label("Key").fill("k")
    page.get_by_role("button", name="Sign in").click()
    page.goto(url + "/train")                           # the cookie signs the browser in to /v1 too
    page.get_by_label("Chat JSONL (or DPO pairs)").set_input_files(str(broken))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('doctor-summary').textContent.includes('upload the file again')")
    assert page.locator("#file-status").text_content() == "broken.jsonl: error"
    assert "line 3" in page.locator("#file-details").text_content() and page.locator("#job-form").is_hidden()
    shot(page, "train-broken-file")
    page.get_by_label("Chat JSONL (or DPO pairs)").set_input_files(str(data))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('file-status').textContent.startsWith('me.jsonl') && "
                           "document.getElementById('doctor-summary').textContent.includes('findings')")
    assert page.locator("#file-status").text_content() == "me.jsonl: processed"
    assert "duplicate" in page.locator("#findings").text_content().lower()      # the doctor's finding
    page.get_by_label("Base model").fill(str(tiny_model_dir))
    page.get_by_label("Epochs").fill("1")
    page.get_by_label("Name suffix").fill("web")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function("document.getElementById('job-status').textContent.length > 0")
    assert page.locator("#job-status").text_content().startswith(("queued", "running", "validating"))
    with job_worker(ws.root):                           # the worker `serve web` starts, as a child process
        page.wait_for_function("document.getElementById('job-status').textContent.startsWith('succeeded') || "
                               "document.getElementById('job-status').textContent.startsWith('failed')",
                               timeout=240_000)
    status = page.locator("#job-status").text_content()
    assert status.startswith("succeeded: ft:"), status
    assert page.evaluate("document.getElementById('progress').value === document.getElementById('progress').max")
    [job] = rows(ws, "select id from jobs")
    events = httpx.get(f"{url}/v1/fine_tuning/jobs/{job['id']}/events?limit=100", headers={"authorization": "Bearer k"}).json()
    steps = [e for e in events["data"] if e["type"] == "metrics" and e["data"].get("train_loss") is not None]
    assert page.locator("#loss polyline.train_loss").count() == 1
    assert len(page.locator("#loss polyline.train_loss").get_attribute("points").split()) == len(steps) > 0
    assert page.locator("#accuracy polyline").count() >= 1
    assert "step" in page.locator("#job-step").text_content()
    shot(page, "train")
    page.get_by_role("link", name="Models").click()
    clone = status.removeprefix("succeeded: ")
    page.get_by_role("cell", name=clone).wait_for()
    # the session's clone index holds the other tests' clones too: look in this clone's row
    assert page.get_by_role("row").filter(has_text=clone).get_by_role("link", name="curves").count() == 1
    shot(page, "models-after-training")


def test_models_page_lists_a_clone_and_serves_its_report(web, browser, ws):
    run = ws.runs_dir / "20261202-010000-abcd"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"name": "ft:smollm2-135m:maggie:20261202-010000-abcd", "method": "sft",
                                              "base_model": "smollm2-135m", "status": "finished",
                                              "created": "2026-12-02T01:00:00+00:00",
                                              "summary": {"steps": 40, "best_valid_loss": 1.2346,
                                                          "final_train_loss": 0.9876, "tokens_per_second": 150.0}}))
    (ws.root / "reports").mkdir()
    (ws.root / "reports" / "maggie.html").write_text("<html><body><h1>Maggie: clone vs baselines</h1></body></html>")
    page = browser.new_page()
    page.goto(web() + "/models")
    page.get_by_role("cell", name="ft:smollm2-135m:maggie:20261202-010000-abcd").wait_for()
    row = page.locator("#clones tbody tr", has_text="20261202-010000-abcd")     # the index may hold other clones
    assert "1.235" in row.text_content() and "0.988" in row.text_content() and "finished" in row.text_content()
    shot(page, "models")
    page.get_by_role("link", name="maggie.html").click()
    page.get_by_role("heading", name="Maggie: clone vs baselines").wait_for()
    base = page.url.split("/web/")[0]
    assert httpx.get(base + "/web/reports/7/passwd").status_code == 400        # only the listed reports are served


def test_the_chat_page_shows_the_original_beside_the_translation(web, browser, ws):
    translation = open_translation("French", open_backend("echo", "echo"), TranslateSettings(clone_language="English"))
    page = browser.new_page()
    page.goto(web(translation=translation))
    box = page.get_by_role("textbox", name="Message")
    box.fill("bonjour")
    box.press("Enter")
    page.locator("#log li.assistant small.original").wait_for()
    user, reply = page.locator("#log li.user"), page.locator("#log li.assistant")
    assert user.locator("small.original").text_content() == "English: echo: bonjour"     # what the clone read
    assert reply.locator("small.original").text_content() == "English: echo: echo: bonjour"  # what it wrote
    assert reply.text_content().startswith("echo: echo: echo: bonjour")                    # and back in French
    shot(page, "chat-translated")


def test_serve_web_shares_one_model_between_the_chat_page_and_v1(ws, monkeypatch):
    from selfclone.serve.web.server import build_web

    monkeypatch.chdir(ws.root)
    app, pool, people = build_web("echo", backend="echo", option=None, api_key=None, translate=None, context=None,
                                  memory=None, max_tokens=None, temperature=None)
    assert pool.loaded() == ["echo"] and people.backend is pool.get("echo").backend
    with background_server(app) as url:
        from openai import OpenAI

        reply = OpenAI(base_url=url + "/v1", api_key="-").chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "hi"}])
        assert "hi" in reply.choices[0].message.content
    assert pool.loaded() == ["echo"]                     # /v1 used the same copy: nothing else was loaded


def test_pages_say_clearly_what_is_missing(web, browser, ws):
    page = browser.new_page()
    page.goto(web() + "/rank")
    page.get_by_role("button", name="Next prompt").click()          # no prompts file, nothing held out, no interview
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "no prompts to rank" in page.locator("#error").text_content()
    assert "--prompts FILE" in page.locator("#error").text_content()
    outside = BotConversations(open_backend("echo", "echo"), GenerationOptions(), channel="web", model="echo")
    with background_server(create_web_app(outside, model="echo")) as url:     # no workspace at all
        answer = httpx.post(url + "/web/review/next", json={})
        assert answer.status_code == 400 and "reviewing needs a workspace" in answer.json()["error"]["message"]
        assert "selfclone init" in answer.json()["error"]["hint"]
        assert httpx.get(url + "/web/models").json()["reports"] == []      # reports live in a workspace


def test_a_reset_web_conversation_comes_to_the_review_page(web, browser, ws):
    page = browser.new_page()
    page.goto(web())
    box = page.get_by_role("textbox", name="Message")
    box.fill("are the bees calm?")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#log li.assistant') && "
                           "!document.querySelector('#log li.assistant').hasAttribute('aria-busy')")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("document.querySelectorAll('#log li').length == 0")
    page.get_by_role("link", name="Review").click()
    page.locator("#reply", has_text="echo: are the bees calm?").wait_for()
    page.get_by_label("What you would have said").fill("calm as anything")
    page.get_by_role("button", name="Reject").click()
    page.locator("#done").wait_for(state="visible")
    [stored] = rows(ws, "select channel from conversations")
    [pair] = rows(ws, "select kind, edited from rankings")
    assert stored["channel"] == "web" and pair == {"kind": "edit", "edited": "calm as anything"}
    assert rows(ws, "select count(*) as n from examples where source = 'review'") == [{"n": 0}]   # rejected: no example
