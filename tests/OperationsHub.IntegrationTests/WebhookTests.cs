using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Webhooks as a script with a token meets them: registered over the API, run events posted signed to a receiver on
/// loopback by the worker's sender, retried after a failure, logged with status codes, re-sent on request; a slow
/// receiver delays neither the run nor another receiver; nothing is sent for another tenant's runs.
/// </summary>
public abstract class WebhookTests(TestProvider provider) : IAsyncLifetime
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    private WebhookReceiver _receiver = null!;
    private WebhookHubFactory _app = null!;

    private TestWorld World => _app.World;

    public async ValueTask InitializeAsync()
    {
        _receiver = await WebhookReceiver.StartAsync(TestContext.Current.CancellationToken);
        _app = new WebhookHubFactory(provider);
        await _app.InitializeWorldAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task ARunsEvents_ArePostedSigned_WithIdsStatusCountsAndLinks_AndLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        var (hook, secret) = await RegisterAsync(owner, "ticketing", "/ok", ["run.queued", "run.completed"]);
        secret.Should().StartWith("whsec_");

        var runId = await StartAsync(owner, "policy_sync", ct);
        var posts = await ReceivedAsync(p => p.Path == "/ok" && RunOf(p) == runId, 2, ct);

        // Deliveries are sent concurrently: the order they arrive in is not promised (occurredAt is).
        posts.Select(p => p.Header("X-OperationsHub-Event")).Should().BeEquivalentTo(["run.queued", "run.completed"]);
        foreach (var post in posts)
        {
            post.Method.Should().Be("POST");
            post.Header("Content-Type").Should().StartWith("application/json");
            VerifySignature(post, secret);
            post.Body.Should().NotContain(secret).And.NotContain("whsec_");
        }

        var completedPost = posts.Single(p => p.Header("X-OperationsHub-Event") == "run.completed");
        var completed = JsonDocument.Parse(completedPost.Body).RootElement;
        completed.GetProperty("event").GetString().Should().Be("run.completed");
        completed.GetProperty("tenant").GetString().Should().Be("alpha");
        completed.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture).Should().Be(completedPost.Header("X-OperationsHub-Delivery"));
        var run = completed.GetProperty("run");
        run.GetProperty("id").GetInt64().Should().Be(runId);
        run.GetProperty("type").GetString().Should().Be("policy_sync");
        run.GetProperty("status").GetString().Should().Be("Completed");
        run.GetProperty("outcome").GetString().Should().Be("Succeeded");
        run.GetProperty("total").GetInt32().Should().Be(3);
        run.GetProperty("succeeded").GetInt32().Should().Be(3);
        run.GetProperty("links").GetProperty("self").GetString().Should().Be($"/api/t/alpha/operations/{runId}");
        run.GetProperty("links").GetProperty("page").GetString().Should().Be($"/admin/t/alpha/operations/{runId}");

        var log = await DeliveriesAsync(owner, hook, d => d.Count(e => e.GetProperty("runId").GetInt64() == runId && e.GetProperty("status").GetString() == "Delivered") == 2, ct);
        var delivered = log.First(d => d.GetProperty("runId").GetInt64() == runId);
        delivered.GetProperty("lastStatusCode").GetInt32().Should().Be(200);
        delivered.GetProperty("attempts").GetInt32().Should().Be(1);
    }

    [Fact]
    public async Task AReceiverAnswering500_IsTriedAgain_AndTheDeliveryShowsBothTries()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        _receiver.Answer("/flaky", 500);
        var (hook, secret) = await RegisterAsync(owner, "flaky", "/flaky", ["run.completed"]);

        var runId = await StartAsync(owner, "policy_sync", ct);
        var posts = await ReceivedAsync(p => p.Path == "/flaky" && RunOf(p) == runId, 2, ct);

        posts.Select(p => p.Header("X-OperationsHub-Delivery")).Distinct().Should().ContainSingle("the retry is the same delivery");
        posts[1].Body.Should().Be(posts[0].Body, "the body is the same on every try");
        VerifySignature(posts[1], secret);
        var deliveryId = posts[0].Header("X-OperationsHub-Delivery");
        var delivery = await EventuallyAsync(
            () => owner.GetFromJsonAsync<JsonElement>($"/api/t/alpha/webhooks/{hook}/deliveries/{deliveryId}", ct),
            d => d.GetProperty("status").GetString() == "Delivered", ct);
        delivery.GetProperty("attempts").GetInt32().Should().Be(2);
        delivery.GetProperty("tries").EnumerateArray().Select(t => t.GetProperty("statusCode").GetInt32()).Should().Equal(500, 200);
    }

    [Fact]
    public async Task ASlowReceiver_DelaysNeitherTheRunsCompletion_NorAnotherReceiver()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        _receiver.Hold("/slow");
        await RegisterAsync(owner, "slow", "/slow", ["run.queued", "run.completed"]);
        await RegisterAsync(owner, "quick", "/quick", ["run.queued", "run.completed"]);

        var runId = await StartAsync(owner, "policy_sync", ct);
        var run = await CompletedAsync(owner, runId, ct);
        var quick = await ReceivedAsync(p => p.Path == "/quick" && RunOf(p) == runId, 2, ct);

        run.GetProperty("outcome").GetString().Should().Be("Succeeded");
        quick.Select(p => p.Header("X-OperationsHub-Event")).Should().BeEquivalentTo(["run.queued", "run.completed"]);
        _receiver.Waiting("/slow").Should().BeGreaterThan(0, "the slow receiver still holds its request while all of this happened");
        _receiver.Release("/slow");
        await ReceivedAsync(p => p.Path == "/slow" && RunOf(p) == runId && p.Header("X-OperationsHub-Event") == "run.completed", 1, ct);
    }

    [Fact]
    public async Task AReceiverThatNeverAnswers_TimesOut_AndTheTryIsLoggedAsNoAnswer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hub = new WebhookHubFactory(provider, timeout: "00:00:01");
        await hub.InitializeWorldAsync();
        using var owner = hub.CreateApiClientFor(hub.World.AlphaOwner);
        _receiver.Hold("/stuck");
        var (hook, _) = await RegisterAsync(owner, "stuck", "/stuck", ["run.completed"]);

        await StartAsync(owner, "policy_sync", ct);
        var log = await DeliveriesAsync(owner, hook, d => d.Count > 0 && d[0].GetProperty("attempts").GetInt32() >= 1, ct);
        _receiver.Release("/stuck");

        log[0].GetProperty("lastError").GetString().Should().Be("No answer within 1 s.");
        log[0].GetProperty("lastStatusCode").ValueKind.Should().Be(JsonValueKind.Null);
        log[0].GetProperty("status").GetString().Should().Be("Pending", "a timeout is tried again");
    }

    [Fact]
    public async Task NothingIsSent_ForAnotherTenantsRuns()
    {
        var ct = TestContext.Current.CancellationToken;
        using var alpha = _app.CreateApiClientFor(World.AlphaOwner);
        using var beta = _app.CreateApiClientFor(World.BetaOwner);
        await RegisterAsync(alpha, "alpha-only", "/alpha", ["run.queued", "run.completed"]);

        var betaRun = await StartAsync(beta, "policy_sync", ct, tenant: "beta");
        await CompletedAsync(beta, betaRun, ct, tenant: "beta");
        var alphaRun = await StartAsync(alpha, "policy_sync", ct);
        await ReceivedAsync(p => p.Path == "/alpha" && RunOf(p) == alphaRun && p.Header("X-OperationsHub-Event") == "run.completed", 1, ct);

        _receiver.Received.Where(p => p.Path == "/alpha")
            .Should().OnlyContain(p => JsonDocument.Parse(p.Body).RootElement.GetProperty("tenant").GetString() == "alpha");
    }

    [Fact]
    public async Task ADeliveredDelivery_CanBeResent_AndOneStillPendingCannot()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        var (hook, _) = await RegisterAsync(owner, "resend", "/resend", ["run.completed"]);
        var runId = await StartAsync(owner, "policy_sync", ct);
        var first = (await ReceivedAsync(p => p.Path == "/resend" && RunOf(p) == runId, 1, ct))[0];
        var deliveryId = first.Header("X-OperationsHub-Delivery");
        await EventuallyAsync(() => owner.GetFromJsonAsync<JsonElement>($"/api/t/alpha/webhooks/{hook}/deliveries/{deliveryId}", ct),
            d => d.GetProperty("status").GetString() == "Delivered", ct);

        _receiver.Hold("/resend");
        using var resent = await owner.PostAsync($"/api/t/alpha/webhooks/{hook}/deliveries/{deliveryId}/resend", null, ct);
        resent.StatusCode.Should().Be(HttpStatusCode.Accepted);
        await ReceivedAsync(p => p.Path == "/resend" && RunOf(p) == runId, 2, ct);
        using var again = await owner.PostAsync($"/api/t/alpha/webhooks/{hook}/deliveries/{deliveryId}/resend", null, ct);
        _receiver.Release("/resend");

        again.StatusCode.Should().Be(HttpStatusCode.Conflict, "it is being sent right now");
        (await again.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("detail").GetString().Should().Contain("still being sent");
        var delivery = await EventuallyAsync(() => owner.GetFromJsonAsync<JsonElement>($"/api/t/alpha/webhooks/{hook}/deliveries/{deliveryId}", ct),
            d => d.GetProperty("status").GetString() == "Delivered", ct);
        delivery.GetProperty("tries").GetArrayLength().Should().Be(2, "the first send and the re-send");
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(ct);
        (await db.AuditEvents.CountAsync(a => a.Action == AuditActions.WebhookDeliveryResent, ct)).Should().Be(1);
    }

    [Fact]
    public async Task ARegisteredAddressThatNowResolvesToLoopback_IsNotCalled_WhenTheHubForbidsLoopback()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var strict = new WebhookHubFactory(provider, allowLoopback: false);
        await strict.InitializeWorldAsync();
        // As if the name pointed elsewhere when it was registered: the row is written directly.
        long hook;
        await using (var db = await strict.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(ct))
        {
            var endpoint = new WebhookEndpoint
            {
                TenantId = strict.World.AlphaTenantId,
                Name = "rebound",
                Url = $"http://localhost:{_receiver.Origin.Port}/rebound",
                ProtectedSecret = strict.Services.GetRequiredService<OperationsHub.Core.Webhooks.WebhookSecrets>().Protect("whsec_x"),
                SecretHint = "whsec_x",
                Events = WebhookEvents.Completed,
                CreatedAt = DateTime.UtcNow,
            };
            db.WebhookEndpoints.Add(endpoint);
            await db.SaveChangesAsync(ct);
            hook = endpoint.Id;
        }

        using var owner = strict.CreateApiClientFor(strict.World.AlphaOwner);
        await StartAsync(owner, "policy_sync", ct);
        var log = await DeliveriesAsync(owner, hook, d => d.Count > 0 && d[0].GetProperty("attempts").GetInt32() >= 1, ct);

        log[0].GetProperty("lastError").GetString().Should().Contain("localhost resolves only to a loopback address");
        log[0].GetProperty("lastStatusCode").ValueKind.Should().Be(JsonValueKind.Null);
        _receiver.Received.Should().NotContain(p => p.Path == "/rebound");
    }

    [Fact]
    public async Task TheApi_AnswersEveryRefusalWithProblemDetails()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        using var operatorClient = _app.CreateApiClientFor(World.AlphaOperator);
        using var beta = _app.CreateApiClientFor(World.BetaOwner);
        using var anonymous = _app.CreateApiClientFor(null);
        var (hook, _) = await RegisterAsync(owner, "audited", "/audited", ["run.completed"]);

        async Task<(HttpStatusCode Status, JsonElement Body)> Post(HttpClient client, object body, string tenant = "alpha")
        {
            using var response = await client.PostAsJsonAsync($"/api/t/{tenant}/webhooks", body, ct);
            return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>(ct));
        }

        var plainHttp = await Post(owner, new { name = "x", url = "http://hooks.example.com/x", events = new[] { "run.completed" } });
        plainHttp.Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        plainHttp.Body.GetProperty("errors").GetProperty("url")[0].GetString().Should().Contain("https://");
        (await Post(owner, new { name = "x", url = "https://169.254.169.254/latest", events = new[] { "run.completed" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = Array.Empty<string>() })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.started" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" }, types = new[] { "no_such_type" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" }, outcomes = new[] { "Pending" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" }, outcomes = new[] { "Succeeded,PartiallySucceeded" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity, "one outcome per entry, not a flag sum");
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" }, outcomes = new[] { "2" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" }, types = new string?[] { null } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "x", url = _receiver.Url("/x"), events = new string?[] { null } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Post(owner, new { name = "audited", url = _receiver.Url("/x"), events = new[] { "run.completed" } })).Status.Should().Be(HttpStatusCode.UnprocessableEntity, "the name is taken");
        (await Post(operatorClient, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" } })).Status.Should().Be(HttpStatusCode.Forbidden);
        (await Post(anonymous, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" } })).Status.Should().Be(HttpStatusCode.Unauthorized);
        (await Post(beta, new { name = "x", url = _receiver.Url("/x"), events = new[] { "run.completed" } })).Status.Should().Be(HttpStatusCode.Forbidden, "a token of beta acts only on beta");

        using (var notJson = await owner.PostAsync("/api/t/alpha/webhooks", new StringContent("name=x"), ct))
        {
            notJson.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        }

        (await operatorClient.GetAsync("/api/t/alpha/webhooks", ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await owner.GetAsync("/api/t/alpha/webhooks/999999", ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await owner.GetAsync("/api/t/alpha/webhooks/abc/deliveries", ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await owner.GetAsync($"/api/t/alpha/webhooks/{hook}/deliveries?limit=0", ct)).StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await owner.GetAsync($"/api/t/alpha/webhooks/{hook}/deliveries/999999", ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await owner.PostAsync($"/api/t/alpha/webhooks/{hook}/deliveries/999999/resend", null, ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await operatorClient.DeleteAsync($"/api/t/alpha/webhooks/{hook}", ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        var listed = await owner.GetFromJsonAsync<JsonElement>("/api/t/alpha/webhooks", ct);
        var only = listed.EnumerateArray().Should().ContainSingle().Subject;
        only.GetProperty("events").EnumerateArray().Select(e => e.GetString()).Should().Equal("run.completed");
        only.GetProperty("secretHint").GetString().Should().StartWith("whsec_").And.HaveLength(10);
        only.TryGetProperty("secret", out _).Should().BeFalse("a secret is shown once, at registration");

        (await owner.DeleteAsync($"/api/t/alpha/webhooks/{hook}", ct)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await owner.GetAsync($"/api/t/alpha/webhooks/{hook}", ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(ct);
        (await db.AuditEvents.Where(a => a.Action.StartsWith("webhook.")).Select(a => a.Action).ToListAsync(ct))
            .Should().BeEquivalentTo([AuditActions.WebhookCreated, AuditActions.WebhookDeleted]);
        (await db.WebhookEndpoints.Select(w => w.ProtectedSecret).SingleOrDefaultAsync(ct)).Should().BeNull("deleted");
    }

    [Fact]
    public async Task TheSecret_IsStoredProtected_NeverInClear()
    {
        var ct = TestContext.Current.CancellationToken;
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);
        var (_, secret) = await RegisterAsync(owner, "stored", "/stored", ["run.completed"]);

        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(ct);
        var stored = await db.WebhookEndpoints.SingleAsync(w => w.Name == "stored", ct);
        stored.ProtectedSecret.Should().NotContain(secret[6..]);
        stored.SecretHint.Should().Be(secret[..10]);
    }

    private async Task<(long Id, string Secret)> RegisterAsync(HttpClient client, string name, string path, string[] events)
    {
        using var response = await client.PostAsJsonAsync("/api/t/alpha/webhooks", new { name, url = _receiver.Url(path), events },
            TestContext.Current.CancellationToken);
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("webhook").GetProperty("id").GetInt64();
        response.Headers.Location!.ToString().Should().Be($"/api/t/alpha/webhooks/{id}");
        return (id, body.GetProperty("secret").GetString()!);
    }

    private static async Task<long> StartAsync(HttpClient client, string type, CancellationToken ct, string tenant = "alpha")
    {
        using var started = await client.PostAsJsonAsync($"/api/t/{tenant}/operations",
            new { type, inputs = new { items = "3", item_delay_ms = "0" } }, ct);
        started.StatusCode.Should().Be(HttpStatusCode.Accepted);
        return (await started.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetInt64();
    }

    private static Task<JsonElement> CompletedAsync(HttpClient client, long runId, CancellationToken ct, string tenant = "alpha") =>
        EventuallyAsync(() => client.GetFromJsonAsync<JsonElement>($"/api/t/{tenant}/operations/{runId}", ct),
            r => r.GetProperty("status").GetString() == "Completed", ct);

    private static async Task<List<JsonElement>> DeliveriesAsync(HttpClient client, long hook, Func<List<JsonElement>, bool> until, CancellationToken ct) =>
        (await EventuallyAsync(
            async () => (await client.GetFromJsonAsync<JsonElement>($"/api/t/alpha/webhooks/{hook}/deliveries", ct)).EnumerateArray().ToList(),
            until, ct));

    private async Task<List<ReceivedHook>> ReceivedAsync(Func<ReceivedHook, bool> which, int count, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var matching = _receiver.Received.Where(which).OrderBy(p => p.At).ToList();
            if (matching.Count >= count)
            {
                return matching;
            }

            clock.Elapsed.Should().BeLessThan(Budget, $"{count} deliveries reach the receiver (got {matching.Count})");
            await Task.Delay(50, ct);
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            clock.Elapsed.Should().BeLessThan(Budget, $"the state is reached: last seen {value}");
            await Task.Delay(100, ct);
        }
    }

    private static long? RunOf(ReceivedHook post) =>
        JsonDocument.Parse(post.Body).RootElement.TryGetProperty("run", out var run) ? run.GetProperty("id").GetInt64() : null;

    /// <summary>The receiver's side of the signature, written from the README's description, not from the hub's code.</summary>
    private static void VerifySignature(ReceivedHook post, string secret)
    {
        var header = post.Header("X-OperationsHub-Signature");
        header.Should().MatchRegex("^t=[0-9]+,v1=[0-9a-f]{64}$");
        var parts = header!.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{parts["t"]}.{post.Body}")));
        parts["v1"].Should().Be(expected);
        long.Parse(parts["t"], CultureInfo.InvariantCulture).Should().BeCloseTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 120);
    }

    private sealed class WebhookHubFactory(TestProvider provider, bool allowLoopback = true, string timeout = "00:00:20") : HubAppFactory(provider)
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Worker:Enabled"] = "true",
            ["Worker:PollInterval"] = "00:00:00.200",
            ["Webhooks:AllowLoopback"] = allowLoopback ? "true" : "false",
            ["Webhooks:PollInterval"] = "00:00:00.100",
            ["Webhooks:FirstBackoff"] = "00:00:00.200",
            ["Webhooks:Timeout"] = timeout,
        };
    }
}

public sealed class WebhookTestsOnSqlite() : WebhookTests(TestProvider.Sqlite);

public sealed class WebhookTestsOnPostgreSql() : WebhookTests(TestProvider.PostgreSql);
