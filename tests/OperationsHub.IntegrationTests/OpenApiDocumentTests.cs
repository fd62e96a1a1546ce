using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
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
        return list;
    }
}
