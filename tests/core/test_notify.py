"""Notifications: in-app rows and outbox messages in the caller's transaction, sent after commit by
jobs through real local servers (SMTP; HTTP playing WeCom and an SMS gateway), idempotent, retried
with backoff, in the embedded mode and on RQ with a real Redis."""
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from flask import Response
from sqlalchemy import func, select, update

from app.core import jobs, notify, uow
from app.core.models import utcnow
from app.core.notify import channels, service
from app.core.notify.models import Notification, OutboxMessage
from app.extensions import db
from tests import factories
from tests.notifications.fakes import AGENT_ID, EagerJobs, FakeHTTP, SMTPServer, redis_or_skip

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture()
def eager(app, monkeypatch):
    return EagerJobs(app, monkeypatch)


@pytest.fixture()
def http():
    channels.clear_wecom_tokens()
    fake = FakeHTTP().start()
    yield fake
    fake.stop()
    channels.clear_wecom_tokens()


@pytest.fixture()
def smtp():
    with SMTPServer() as server:
        yield server


@pytest.fixture()
def channels_on(app, monkeypatch, http, smtp):
    settings = {**http.channel_config(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port,
                "SMTP_FROM": "medtech@hospital.test", "SMTP_TLS": "", "SMTP_USER": ""}
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)


def _user(**addresses):
    user = factories.create_user()
    if addresses:
        notify.set_addresses(user.id, **addresses)
    return user


def _reload(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message.id)


def _make_due(message: OutboxMessage) -> None:
    """Time passes: the message's next attempt is due."""
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    uow.commit()


def _mail(envelope):
    return message_from_bytes(envelope.content, policy=default_policy)


# --- writing and sending after commit ---------------------------------------------------------

@pytest.mark.req("R10.2")
def test_email_is_written_in_the_transaction_and_sent_after_commit(ctx, eager, channels_on, smtp):
    user = _user(email="zhang.doctor@hospital.test")
    result = notify.notify([user.id], "privilege.expiring", "手术授权即将到期", "请在 30 天内申请复评",
                           link="/privileges/7", channels=("inapp", "email"))
    message = result.messages[0]
    assert message.status == "pending" and message.address == "zhang.doctor@hospital.test"
    assert smtp.messages == []  # nothing leaves before the commit

    uow.commit()

    assert len(smtp.messages) == 1
    envelope = smtp.messages[0]
    assert envelope.rcpt_tos == ["zhang.doctor@hospital.test"]
    assert envelope.mail_from == "medtech@hospital.test"
    mail = _mail(envelope)
    assert mail["Subject"] == "手术授权即将到期"
    assert "请在 30 天内申请复评" in mail.get_content()
    message = _reload(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, None)
    assert message.sent_at is not None
    inapp = result.notifications[0]
    assert (inapp.user_id, inapp.link, inapp.read_at) == (user.id, "/privileges/7", None)


@pytest.mark.req("R10.2")
def test_nothing_is_sent_when_the_request_rolls_back(app, ctx, eager, channels_on, http):
    user = _user(mobile="13800000001")
    uow.commit()
    with app.test_request_context("/"):
        notify.notify([user.id], "test", "失败请求中的提醒", channels=("inapp", "sms"))
        app.process_response(Response(status=500))
    assert http.sent("/sms") == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.subject == "失败请求中的提醒")) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.title == "失败请求中的提醒")) == 0

    with app.test_request_context("/"):
        notify.notify([user.id], "test", "成功请求中的提醒", channels=("sms",))
        app.process_response(Response(status=200))
    assert [r.body["content"] for r in http.sent("/sms")] == ["成功请求中的提醒"]


@pytest.mark.req("R10.2")
def test_the_same_key_twice_gives_one_message_per_recipient_and_channel(ctx, eager, channels_on,
                                                                        smtp):
    a = _user(email="a@hospital.test")
    b = _user(email="b@hospital.test")
    first = notify.notify([a.id, b.id, a.id], "briefing", "质控简报已发布", channels=("inapp", "email"),
                          key="briefing:42:unread")
    again = notify.notify([a.id, b.id], "briefing", "质控简报已发布", channels=("inapp", "email"),
                          key="briefing:42:unread")
    assert (len(first.notifications), len(first.messages)) == (2, 2)
    assert (again.notifications, again.messages) == ([], [])
    uow.commit()
    notify.notify([a.id], "briefing", "质控简报已发布", channels=("email",), key="briefing:42:unread")
    uow.commit()

    assert sorted(e.rcpt_tos[0] for e in smtp.messages) == ["a@hospital.test", "b@hospital.test"]
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id.in_([a.id, b.id]))) == 2
    # Another key is another message.
    notify.notify([a.id], "briefing", "质控简报已发布", channels=("email",), key="briefing:43:unread")
    uow.commit()
    assert len(smtp.messages) == 3


@pytest.mark.req("R10.2")
def test_sending_a_sent_message_again_does_nothing(ctx, eager, channels_on, smtp):
    user = _user(email="once@hospital.test")
    message = notify.notify([user.id], "test", "只发一次", channels=("email",)).messages[0]
    uow.commit()
    assert len(smtp.messages) == 1

    assert jobs.run("notify.send_outbox", message.id) == "skipped"
    assert notify.send_outbox(message.id) == "skipped"
    assert len(smtp.messages) == 1
    assert _reload(message).attempts == 1


@pytest.mark.req("R10.2")
def test_a_smtp_server_that_is_down_is_retried(ctx, eager, app, monkeypatch, channels_on):
    from tests.notifications.fakes import free_port

    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nobody listens there
    user = _user(email="down@hospital.test")
    message = notify.notify([user.id], "test", "邮件服务器不可用", channels=("email",)).messages[0]
    uow.commit()
    message = _reload(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "SMTP error" in message.last_error
    assert [d.delay for d in eager.delayed] == [60]


# --- WeCom ------------------------------------------------------------------------------------

@pytest.mark.req("R10.2")
def test_wecom_message_uses_a_cached_token_and_the_users_wecom_id(ctx, eager, channels_on, http):
    a = _user(wecom_userid="ZhangSan")
    b = _user(wecom_userid="LiSi")
    notify.notify([a.id, b.id], "briefing", "质控简报", "请阅读本月简报", channels=("wecom",))
    uow.commit()
    notify.notify([a.id], "briefing", "第二条", channels=("wecom",))
    uow.commit()

    sent = http.sent("/cgi-bin/message/send")
    assert [r.body["touser"] for r in sent] == ["ZhangSan", "LiSi", "ZhangSan"]
    assert http.tokens_issued == 1  # fetched once, then cached
    assert {r.query["access_token"][0] for r in sent} == {"token-1"}
    body = sent[0].body
    assert body["msgtype"] == "text" and body["agentid"] == int(AGENT_ID)
    assert body["text"]["content"] == "质控简报\n请阅读本月简报"


@pytest.mark.req("R10.2")
def test_wecom_errcode_fails_with_its_errmsg_and_is_retried(ctx, eager, channels_on, http):
    user = _user(wecom_userid="WangWu")
    http.wecom_replies.append({"errcode": 60020, "errmsg": "not allow to access from your ip"})
    message = notify.notify([user.id], "test", "企业微信失败", channels=("wecom",)).messages[0]
    uow.commit()

    message = _reload(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "60020" in message.last_error and "not allow to access from your ip" in message.last_error
    assert timedelta(seconds=55) < message.next_attempt_at - utcnow() <= timedelta(seconds=60)
    assert [(d.delay, d.name, d.args) for d in eager.delayed] == [(60, "notify.send_outbox",
                                                                    [message.id])]
    _make_due(message)
    eager.fire()
    message = _reload(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)


@pytest.mark.req("R10.2")
def test_an_expired_wecom_token_is_fetched_again(ctx, eager, channels_on, http):
    user = _user(wecom_userid="ZhaoLiu")
    notify.notify([user.id], "test", "第一条", channels=("wecom",))
    uow.commit()
    http.expire_tokens()
    message = notify.notify([user.id], "test", "第二条", channels=("wecom",)).messages[0]
    uow.commit()
    assert _reload(message).status == "sent"
    assert http.tokens_issued == 2


@pytest.mark.req("R10.2")
def test_wrong_wecom_credentials_are_reported(ctx, eager, app, monkeypatch, channels_on, http):
    monkeypatch.setitem(app.config, "WECOM_CORP_SECRET", "wrong")
    user = _user(wecom_userid="SunQi")
    message = notify.notify([user.id], "test", "凭据错误", channels=("wecom",)).messages[0]
    uow.commit()
    message = _reload(message)
    assert message.status == "pending" and "gettoken failed: 40001" in message.last_error
    assert http.sent("/cgi-bin/message/send") == []


# --- SMS --------------------------------------------------------------------------------------

@pytest.mark.req("R10.2")
def test_sms_goes_to_the_staff_phone_and_a_500_is_retried_then_sent(ctx, eager, channels_on, http):
    staff = factories.create_staff(phone="13912345678")
    user = factories.create_user(staff=staff)
    notify.notify([user.id], "critical", "危急值提醒", "请及时处理", channels=("sms",))
    uow.commit()
    request = http.sent("/sms")[0]
    assert request.body == {"mobile": "13912345678", "content": "危急值提醒：请及时处理",
                            "sign": "测试医院"}
    assert request.headers["Authorization"] == "Bearer sms-token"

    http.sms_replies.append((500, {"code": 500, "message": "busy"}))
    message = notify.notify([user.id], "critical", "第二次提醒", channels=("sms",)).messages[0]
    uow.commit()
    message = _reload(message)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "HTTP 500" in message.last_error
    assert [d.delay for d in eager.delayed] == [60]

    _make_due(message)
    eager.fire()
    message = _reload(message)
    assert (message.status, message.attempts) == ("sent", 2)
    assert [r.body["content"] for r in http.sent("/sms")][-2:] == ["第二次提醒", "第二次提醒"]


@pytest.mark.req("R10.2")
def test_sms_gateway_refusal_code_is_a_failure(ctx, eager, channels_on, http):
    user = _user(mobile="13700000000")
    http.sms_replies.append((200, {"code": 17, "message": "blacklisted"}))
    message = notify.notify([user.id], "test", "被拒绝", channels=("sms",)).messages[0]
    uow.commit()
    message = _reload(message)
    assert message.status == "pending" and "code 17 blacklisted" in message.last_error


@pytest.mark.req("R10.2")
def test_retries_back_off_1_5_30_minutes_then_fail_for_good(ctx, eager, channels_on, http):
    user = _user(mobile="13600000000")
    http.sms_replies.extend([(500, {})] * 4)
    message = notify.notify([user.id], "test", "一直失败", channels=("sms",)).messages[0]
    uow.commit()
    delays = []
    while eager.delayed:
        delays.append(eager.delayed[0].delay)
        _make_due(message)
        eager.fire()
    message = _reload(message)
    assert delays == [60, 300, 1800]
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 4, None)
    assert len(http.sent("/sms")) == 4
    assert jobs.run("notify.send_outbox", message.id) == "skipped"  # a stray job does nothing
    assert len(http.sent("/sms")) == 4


@pytest.mark.req("R10.2")
def test_a_channel_without_endpoint_fails_at_once_with_a_clear_error(ctx, eager, app, monkeypatch):
    for name in ("SMTP_HOST", "WECOM_CORP_ID", "SMS_GATEWAY_URL"):
        monkeypatch.setitem(app.config, name, "")
    user = _user(email="x@hospital.test", mobile="13500000000", wecom_userid="X")
    result = notify.notify([user.id], "test", "未配置", channels=("email", "wecom", "sms"))
    uow.commit()
    for message in result.messages:
        message = _reload(message)
        assert (message.status, message.attempts) == ("failed", 1)
        assert message.last_error.startswith(f"channel not configured: {message.channel}")
    assert eager.delayed == []


@pytest.mark.req("R10.2")
def test_a_recipient_without_address_fails_clearly(ctx, eager, channels_on, http):
    user = _user()  # the factory's staff has no phone
    message = notify.notify([user.id], "test", "无号码", channels=("sms",)).messages[0]
    uow.commit()
    message = _reload(message)
    assert (message.status, message.last_error) == ("failed", "no sms address for the recipient")
    assert http.sent("/sms") == [] and eager.delayed == []


# --- addresses, validation, periodic pick-up --------------------------------------------------

def test_address_resolvers_are_pluggable(ctx, monkeypatch):
    monkeypatch.setattr(service, "_RESOLVERS", {})
    staff = factories.create_staff(phone="13311112222")
    user = factories.create_user(staff=staff)
    assert notify.resolve_address("sms", user.id) == "13311112222"
    assert notify.resolve_address("wecom", user.id) is None
    notify.set_addresses(user.id, mobile="13399990000")
    assert notify.resolve_address("sms", user.id) == "13399990000"  # the user's own number wins

    notify.register_address_resolver("wecom", lambda user_id: f"wx-{user_id}")
    assert notify.resolve_address("wecom", user.id) == f"wx-{user.id}"
    message = notify.notify([user.id], "test", "t", channels=("wecom",)).messages[0]
    assert message.address == f"wx-{user.id}"
    with pytest.raises(ValueError):
        notify.register_address_resolver("fax", lambda user_id: None)


@pytest.mark.parametrize("kwargs", [{"channels": ("pager",)}, {"link": "https://evil.example/x"},
                                    {"link": "//evil.example/x"}, {"link": "relative/path"}])
def test_unknown_channels_and_absolute_links_are_refused(ctx, kwargs):
    user = factories.create_user()
    with pytest.raises(ValueError):
        notify.notify([user.id], "test", "t", **kwargs)


def test_retry_due_queues_due_and_lost_messages_only(ctx, monkeypatch):
    user = factories.create_user()
    now = utcnow()

    def row(tag, **kw):
        values = dict(channel="sms", user_id=user.id, address="1", subject=tag, body="",
                      idempotency_key=f"due-test-{tag}", status="pending", attempts=1)
        values.update(kw)
        message = OutboxMessage(**values)
        db.session.add(message)
        return message

    due = row("due", next_attempt_at=now - timedelta(seconds=5))
    lost = row("lost", attempts=0, created_at=now - timedelta(minutes=10))
    row("future", next_attempt_at=now + timedelta(minutes=4))
    row("fresh", attempts=0)
    row("sent", status="sent", next_attempt_at=now - timedelta(seconds=5))
    row("failed", status="failed", next_attempt_at=now - timedelta(seconds=5))
    db.session.flush()
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args, **kw: queued.append((name, args)))

    assert notify.retry_due() == 2
    assert sorted(queued) == sorted([("notify.send_outbox", (due.id,)),
                                     ("notify.send_outbox", (lost.id,))])
    assert jobs.periodic()["notify.retry_due"].every_seconds == 60


# --- Redis / RQ -------------------------------------------------------------------------------

@pytest.fixture()
def rq_queue(app, monkeypatch):
    connection = redis_or_skip(REDIS)
    from rq import Queue

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS)
    monkeypatch.setattr(jobs, "_worker_app", app)
    queue = Queue(jobs.QUEUE, connection=connection)
    connection.flushdb()
    yield queue
    connection.flushdb()


@pytest.mark.req("R10.2")
def test_redis_mode_sends_through_an_rq_worker_and_schedules_the_retry(ctx, rq_queue, channels_on,
                                                                       http):
    from rq import SimpleWorker
    from rq.job import Job

    worker = SimpleWorker([rq_queue], connection=rq_queue.connection)
    user = _user(mobile="13200000000")
    message = notify.notify([user.id], "test", "经由 RQ", channels=("sms",)).messages[0]
    assert rq_queue.count == 0  # nothing leaves before the commit
    uow.commit()
    assert rq_queue.count == 1
    worker.work(burst=True)
    assert _reload(message).status == "sent"
    assert [r.body["content"] for r in http.sent("/sms")] == ["经由 RQ"]

    http.sms_replies.append((500, {}))
    message = notify.notify([user.id], "test", "RQ 重试", channels=("sms",)).messages[0]
    uow.commit()
    worker.work(burst=True)
    message = _reload(message)
    assert (message.status, message.attempts) == ("pending", 1)
    scheduled = rq_queue.scheduled_job_registry
    [job_id] = scheduled.get_job_ids()
    job = Job.fetch(job_id, connection=rq_queue.connection)
    assert job.args[:2] == ("notify.send_outbox", [message.id]) or \
        list(job.args[:2]) == ["notify.send_outbox", [message.id]]
    ahead = scheduled.get_scheduled_time(job_id) - datetime.now(UTC)
    assert timedelta(seconds=50) < ahead <= timedelta(seconds=61)

    # Time passes: the scheduler moves the job onto the queue, a worker sends.
    _make_due(message)
    scheduled.remove(job)
    rq_queue.enqueue_job(job)
    worker.work(burst=True)
    message = _reload(message)
    assert (message.status, message.attempts) == ("sent", 2)
