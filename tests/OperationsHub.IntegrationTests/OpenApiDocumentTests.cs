using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// The OpenAPI document at /openapi/v1.json tells the truth: every endpoint it lists exists, and for each status code
/// it lists, a real request gets exactly that status; and it lists every status the test knows how to provoke.
/// </summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private readonly BusyDatabaseApp _app = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task EveryDocumentedEndpointAndStatus_IsWhatARealRequestGets()
    {
        using var anonymous = _app.CreateApiClientFor(null);
        using var document = await anonymous.GetAsync("/openapi/v1.json", Ct);
        document.StatusCode.Should().Be(HttpStatusCode.OK);
        var root = JsonDocument.Parse(await document.Content.ReadAsStringAsync(Ct)).RootElement;
        root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString().Should().Be("bearer");
        var documented = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    documented.Add($"{operation.Name.ToUpperInvariant()} {path.Name} {response.Name}");
                }
            }
        }

        var scenarios = Scenarios();
        documented.Should().BeEquivalentTo(scenarios.Select(s => s.Key), "every documented status has a request that provokes it, and no other");

        var wrong = new List<string>();
        foreach (var (key, send) in scenarios)
        {
            var expected = int.Parse(key.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
            using var response = await send();
            var body = await response.Content.ReadAsStringAsync(Ct);
            if ((int)response.StatusCode != expected)
            {
                wrong.Add($"{key}: got {(int)response.StatusCode} {body}");
            }
            else if (expected >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                wrong.Add($"{key}: not problem details ({response.Content.Headers.ContentType}) {body}");
            }
        }

        wrong.Should().BeEmpty();
    }

    /// <summary>One request per documented (method, path, status), in an order where each finds what it needs.</summary>
    private List<(string Key, Func<Task<HttpResponseMessage>> Send)> Scenarios()
    {
        var world = _app.World;
        var op = _app.CreateApiClientFor(world.AlphaOperator);
        var owner = _app.CreateApiClientFor(world.AlphaOwner);
        var otherTenant = _app.CreateApiClientFor(world.BetaOwner);
        var anonymous = _app.CreateApiClientFor(null);
        long cancelled = 0;
        long queued = 0;

        const string Types = "/api/t/{tenantExternalId}/operation-types";
        const string Runs = "/api/t/{tenantExternalId}/operations";
        const string Run = "/api/t/{tenantExternalId}/operations/{operationRunId}";
        const string Cancel = "/api/t/{tenantExternalId}/operations/{operationRunId}/cancel";
        const string Retry = "/api/t/{tenantExternalId}/operations/{operationRunId}/retry";
        const string Bulk = "/api/t/{tenantExternalId}/operations/bulk";
        var restore0 = new { type = "restore", identityInputs = new { backup_id = world.AlphaBackupIds[0] } };
        var restore1 = new { type = "restore", identityInputs = new { backup_id = world.AlphaBackupIds[1] } };
        var list = new List<(string, Func<Task<HttpResponseMessage>>)>();

        void Add(string method, string path, int status, Func<Task<HttpResponseMessage>> send) => list.Add(($"{method} {path} {status}", send));
        Task<HttpResponseMessage> Json(HttpClient client, string url, object body) => client.PostAsJsonAsync(url, body, Ct);
        Task<HttpResponseMessage> Raw(HttpClient client, string url, string body, string mediaType = "application/json") =>
            client.PostAsync(url, new StringContent(body, Encoding.UTF8, mediaType), Ct);
        async Task<HttpResponseMessage> Busy(Func<Task<HttpResponseMessage>> send)
        {
            _app.Busy.Set();
            try
            {
                return await send();
            }
            finally
            {
                _app.Busy.Reset();
            }
        }

        // The refusals every tenant endpoint shares: no token, another tenant's token, an unknown tenant, a busy database.
        void Shared(string method, string path, Func<HttpClient, string, Task<HttpResponseMessage>> call, string alphaUrl)
        {
            Add(method, path, 401, () => call(anonymous, alphaUrl));
            Add(method, path, 403, () => call(otherTenant, alphaUrl));
            Add(method, path, 404, () => call(op, alphaUrl.Replace("/api/t/alpha/", "/api/t/gamma/", StringComparison.Ordinal)));
            Add(method, path, 503, () => Busy(() => call(op, alphaUrl)));
        }

        void BodyRefusals(string path, string alphaUrl)
        {
            Add("POST", path, 400, () => Raw(op, alphaUrl, "{\"type\":"));
            Add("POST", path, 413, () => Raw(op, alphaUrl, "{\"reason\":\"" + new string('x', 40_000) + "\"}"));
            Add("POST", path, 415, () => Raw(op, alphaUrl, "reason=x", "application/x-www-form-urlencoded"));
        }

        Add("GET", Types, 200, () => op.GetAsync("/api/t/alpha/operation-types", Ct));
        Shared("GET", Types, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/operation-types");

        Add("GET", Runs, 200, () => op.GetAsync("/api/t/alpha/operations?status=queued&limit=5", Ct));
        Add("GET", Runs, 422, () => op.GetAsync("/api/t/alpha/operations?status=bogus", Ct));
        Shared("GET", Runs, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/operations");

        Add("POST", Runs, 202, () => Json(op, "/api/t/alpha/operations", restore0));
        Add("POST", Runs, 200, () => Json(op, "/api/t/alpha/operations", restore0));
        Add("POST", Runs, 422, () => Json(op, "/api/t/alpha/operations", new { type = "no_such_type" }));
        BodyRefusals(Runs, "/api/t/alpha/operations");
        Shared("POST", Runs, (c, u) => Json(c, u, restore1), "/api/t/alpha/operations");

        Add("GET", Run, 200, () => op.GetAsync($"/api/t/alpha/operations/{world.AlphaRunId}", Ct));
        Shared("GET", Run, (c, u) => c.GetAsync(u, Ct), $"/api/t/alpha/operations/{world.AlphaRunId}");

        Add("POST", Cancel, 200, async () =>
        {
            using var started = await Json(op, "/api/t/alpha/operations", restore1);
            cancelled = JsonDocument.Parse(await started.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
            return await Json(op, $"/api/t/alpha/operations/{cancelled}/cancel", new { reason = "OpenAPI check" });
        });
        Add("POST", Cancel, 409, () => Json(op, $"/api/t/alpha/operations/{cancelled}/cancel", new { }));
        Add("POST", Cancel, 422, () => Json(op, $"/api/t/alpha/operations/{world.AlphaRunId}/cancel", new { reason = new string('x', 501) }));
        BodyRefusals(Cancel, $"/api/t/alpha/operations/{world.AlphaRunId}/cancel");
        Shared("POST", Cancel, (c, u) => Json(c, u, new { }), $"/api/t/alpha/operations/{world.AlphaRunId}/cancel");

        Add("POST", Retry, 202, () => Json(op, $"/api/t/alpha/operations/{cancelled}/retry", new { }));
        Add("POST", Retry, 200, () => Json(op, $"/api/t/alpha/operations/{cancelled}/retry", new { }));
        Add("POST", Retry, 409, async () =>
        {
            using var started = await Json(op, "/api/t/alpha/operations", new { type = "policy_sync", target = "OpenAPI queued" });
            queued = JsonDocument.Parse(await started.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetInt64();
            return await Json(op, $"/api/t/alpha/operations/{queued}/retry", new { });
        });
        BodyRefusals(Retry, $"/api/t/alpha/operations/{world.AlphaRunId}/retry");
        Shared("POST", Retry, (c, u) => Json(c, u, new { }), $"/api/t/alpha/operations/{world.AlphaRunId}/retry");

        Add("POST", Bulk, 202, () => Json(owner, "/api/t/alpha/operations/bulk", new { action = "cancel", ids = new[] { queued }, expectedCount = 1 }));
        Add("POST", Bulk, 200, () => Json(owner, "/api/t/alpha/operations/bulk", new { action = "cancel", ids = new[] { queued }, expectedCount = 1 }));
        Add("POST", Bulk, 409, () => Json(owner, "/api/t/alpha/operations/bulk", new { action = "cancel", ids = new[] { queued }, expectedCount = 5 }));
        Add("POST", Bulk, 422, () => Json(owner, "/api/t/alpha/operations/bulk", new { action = "delete", ids = new[] { queued }, expectedCount = 1 }));
        BodyRefusals(Bulk, "/api/t/alpha/operations/bulk");
        Shared("POST", Bulk, (c, u) => Json(c, u, new { action = "cancel", ids = new[] { world.AlphaRunId }, expectedCount = 1 }), "/api/t/alpha/operations/bulk");

        // Webhooks: registered by the owner; the shared refusals are decided before a webhook or delivery is looked up.
        const string Hooks = "/api/t/{tenantExternalId}/webhooks";
        const string Hook = "/api/t/{tenantExternalId}/webhooks/{webhookId}";
        const string Deliveries = "/api/t/{tenantExternalId}/webhooks/{webhookId}/deliveries";
        const string Delivery = "/api/t/{tenantExternalId}/webhooks/{webhookId}/deliveries/{deliveryId}";
        const string Resend = "/api/t/{tenantExternalId}/webhooks/{webhookId}/deliveries/{deliveryId}/resend";
        long hook = 0;
        long delivery = 0;
        object Registration(string name) => new { name, url = "https://hooks.example.com/" + name, events = new[] { "run.queued", "run.completed" } };
        Add("POST", Hooks, 201, async () =>
        {
            var created = await Json(owner, "/api/t/alpha/webhooks", Registration("openapi"));
            hook = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("webhook").GetProperty("id").GetInt64();
            return created;
        });
        Add("POST", Hooks, 422, () => Json(owner, "/api/t/alpha/webhooks", new { name = "x", url = "https://169.254.169.254/", events = new[] { "run.completed" } }));
        BodyRefusals(Hooks, "/api/t/alpha/webhooks");
        Shared("POST", Hooks, (c, u) => Json(c, u, Registration("shared")), "/api/t/alpha/webhooks");

        Add("GET", Hooks, 200, () => owner.GetAsync("/api/t/alpha/webhooks", Ct));
        Shared("GET", Hooks, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/webhooks");
        Add("GET", Hook, 200, () => owner.GetAsync($"/api/t/alpha/webhooks/{hook}", Ct));
        Shared("GET", Hook, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/webhooks/1");

        Add("GET", Deliveries, 200, async () =>
        {
            // A start writes the queued event's delivery in its own commit (the sender is off here, so it stays pending).
            (await Json(op, "/api/t/alpha/operations", new { type = "inventory_sync", target = "OpenAPI webhook" })).Dispose();
            var listed = await owner.GetAsync($"/api/t/alpha/webhooks/{hook}/deliveries", Ct);
            delivery = JsonDocument.Parse(await listed.Content.ReadAsStringAsync(Ct)).RootElement[0].GetProperty("id").GetInt64();
            return listed;
        });
        Add("GET", Deliveries, 422, () => owner.GetAsync($"/api/t/alpha/webhooks/{hook}/deliveries?limit=0", Ct));
        Shared("GET", Deliveries, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/webhooks/1/deliveries");
        Add("GET", Delivery, 200, () => owner.GetAsync($"/api/t/alpha/webhooks/{hook}/deliveries/{delivery}", Ct));
        Shared("GET", Delivery, (c, u) => c.GetAsync(u, Ct), "/api/t/alpha/webhooks/1/deliveries/1");

        Add("POST", Resend, 202, async () =>
        {
            // As the sender would have: delivered (only a delivered or failed delivery can be re-sent).
            var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
            await using (var db = await dbFactory.CreateDbContextAsync(Ct))
            {
                await db.WebhookDeliveries.Where(d => d.Id == delivery)
                    .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, WebhookDeliveryStatus.Delivered).SetProperty(d => d.Attempts, 1), Ct);
            }

            return await owner.PostAsync($"/api/t/alpha/webhooks/{hook}/deliveries/{delivery}/resend", null, Ct);
        });
        Add("POST", Resend, 409, () => owner.PostAsync($"/api/t/alpha/webhooks/{hook}/deliveries/{delivery}/resend", null, Ct));
        Shared("POST", Resend, (c, u) => c.PostAsync(u, null, Ct), "/api/t/alpha/webhooks/1/deliveries/1/resend");

        Add("POST", Hooks, 409, async () =>
        {
            // A tenant has at most 20 webhooks: fill up to the limit, then one more.
            for (var i = 1; i < 20; i++)
            {
                (await Json(owner, "/api/t/alpha/webhooks", Registration($"filler-{i}"))).Dispose();
            }

            return await Json(owner, "/api/t/alpha/webhooks", Registration("one-too-many"));
        });

        Add("DELETE", Hook, 204, () => owner.DeleteAsync($"/api/t/alpha/webhooks/{hook}", Ct));
        Shared("DELETE", Hook, (c, u) => c.DeleteAsync(u, Ct), "/api/t/alpha/webhooks/1");
        return list;
    }
}
