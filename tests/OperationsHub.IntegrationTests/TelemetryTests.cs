using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using OperationsHub.Core.Diagnostics;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// OpenTelemetry as an operator meets it: with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> pointing at a collector on loopback,
/// a run started over the API shows up there as one trace (the HTTP request, the start, the worker's claim and its
/// execution, linked to the start across the queue), the run and its page carry the trace id, and the meter and the
/// logs arrive too. Without the variable nothing is registered.
/// </summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private const string TraceViewer = "https://traces.example.test/trace/{traceId}";
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    private OtlpReceiver _collector = null!;
    private TracedHubFactory _app = null!;

    public async ValueTask InitializeAsync()
    {
        _collector = await OtlpReceiver.StartAsync(TestContext.Current.CancellationToken);
        _app = new TracedHubFactory(_collector.Endpoint);
        await _app.InitializeWorldAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _collector.DisposeAsync();
    }

    [Fact]
    public async Task ARunStartedOverTheApi_IsOneTrace_StartClaimAndExecute_WithTheExecuteSpanLinkedToTheStart()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = _app.CreateApiClientFor(_app.World.AlphaOperator);
        var (runId, trace) = await StartTracedAsync(client, new { type = "policy_sync", inputs = new { items = "3", item_delay_ms = "0" } }, ct);
        var run = await CompletedAsync(client, runId, ct);

        var spans = await SpansOfRunAsync(runId, trace, ct);
        var start = spans.Single(s => s.Name == HubTracing.StartSpan);
        var claim = spans.Single(s => s.Name == HubTracing.ClaimSpan);
        var execute = spans.Single(s => s.Name == HubTracing.ExecuteSpan);

        start.Scope.Should().Be("OperationsHub");
        start.Kind.Should().Be(4, "the start hands work to a queue: a producer span");
        start.Attributes.Should().Contain(HubTracing.TenantIdTag, _app.World.AlphaTenantId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .And.Contain(HubTracing.TypeTag, "policy_sync").And.Contain(HubTracing.DedupedTag, "false");
        var request = _collector.Spans.Single(s => s.SpanId == start.ParentSpanId);
        request.Scope.Should().Be("Microsoft.AspNetCore");
        request.Kind.Should().Be(2);
        request.TraceId.Should().Be(trace, "the start span is a child of the API request that asked for the run, in the caller's trace");

        claim.TraceId.Should().Be(start.TraceId);
        claim.ParentSpanId.Should().Be(start.SpanId);
        claim.Attributes.Should().ContainKey(HubTracing.WorkerTag).And.Contain(HubTracing.AttemptTag, "1");

        execute.Kind.Should().Be(5, "the worker consumes the queued run");
        execute.TraceId.Should().Be(start.TraceId);
        execute.ParentSpanId.Should().Be(start.SpanId);
        execute.Links.Should().ContainSingle().Which.Should().Be((start.TraceId, start.SpanId));
        execute.Attributes.Should().Contain(HubTracing.TypeTag, "policy_sync").And.Contain(HubTracing.OutcomeTag, "succeeded");
        execute.StatusCode.Should().Be(0, "a succeeded run is not an error");

        run.GetProperty("traceId").GetString().Should().Be(start.TraceId);
        using var pages = _app.CreateClientFor(_app.World.AlphaOperator);
        var page = await pages.GetStringAsync($"/admin/t/alpha/operations/{runId}", ct);
        page.Should().Contain($"https://traces.example.test/trace/{start.TraceId}", "the run page links its trace in the configured viewer");
    }

    [Fact]
    public async Task AFailedRun_EndsItsExecuteSpanAsAnError_WithTheFailureCode()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = _app.CreateApiClientFor(_app.World.AlphaOperator);
        // The sample inventory sync fails every fail_every-th device: here every one.
        var (runId, trace) = await StartTracedAsync(
            client, new { type = "inventory_sync", inputs = new { items = "4", item_delay_ms = "0", fail_every = "1" } }, ct);
        var run = await CompletedAsync(client, runId, ct);
        var outcome = run.GetProperty("outcome").GetString();

        var execute = (await SpansOfRunAsync(runId, trace, ct)).Single(s => s.Name == HubTracing.ExecuteSpan);

        outcome.Should().NotBe("Succeeded", "the run was set up to fail its items");
        execute.Attributes[HubTracing.OutcomeTag].Should().Be(outcome == "Failed" ? "failed" : "partially_succeeded");
        execute.StatusCode.Should().Be(2, "an execution that did not succeed is an error span");
    }

    [Fact]
    public async Task TheMeterAndTheLogs_AreExportedToo()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = _app.CreateApiClientFor(_app.World.AlphaOperator);
        using var started = await client.PostAsJsonAsync("/api/t/alpha/operations",
            new { type = "backup", inputs = new { item_delay_ms = "0" } }, ct);
        started.StatusCode.Should().Be(HttpStatusCode.Accepted);

        var clock = Stopwatch.StartNew();
        while (!(_collector.Received("/v1/metrics", "operationshub.runs.started")
                 && _collector.Received("/v1/logs", "OperationsHub.Core.Runs.OperationRunService")))
        {
            clock.Elapsed.Should().BeLessThan(Budget, "the meter and the logs are exported within the export interval");
            await Task.Delay(100, ct);
        }
    }

    [Fact]
    public void WithoutTheEndpoint_NoProviderIsRegistered()
    {
        using var plain = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Demo:Enabled", "false")
            .UseSetting("Worker:Enabled", "false")
            .UseSetting("Database:ConnectionString", $"Data Source={Path.Combine(Path.GetTempPath(), $"opshub-otel-{Guid.NewGuid():N}.db")}"));

        plain.Services.GetService<TracerProvider>().Should().BeNull("nothing listens to the hub's spans without an exporter");
        plain.Services.GetService<MeterProvider>().Should().BeNull();
    }

    [Fact]
    public void ATraceViewerTemplateWithoutThePlaceholder_StopsTheHost_NamingTheKey()
    {
        using var app = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("Demo:Enabled", "false")
            .UseSetting("Worker:Enabled", "false")
            .UseSetting("Database:ConnectionString", $"Data Source={Path.Combine(Path.GetTempPath(), $"opshub-otel-{Guid.NewGuid():N}.db")}")
            .UseSetting("Telemetry:TraceViewerUrl", "https://traces.example.test/trace/"));

        var start = () => app.Services;

        start.Should().Throw<Exception>().Which.ToString().Should().Contain("Telemetry:TraceViewerUrl must be an absolute http(s) address with {traceId}");
    }

    private static async Task<JsonElement> CompletedAsync(HttpClient client, long runId, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var run = await client.GetFromJsonAsync<JsonElement>($"/api/t/alpha/operations/{runId}", ct);
            if (run.GetProperty("status").GetString() == "Completed")
            {
                return run;
            }

            clock.Elapsed.Should().BeLessThan(Budget, $"run {runId} completes: the worker is on");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>
    /// Starts a run in a trace of the test's own (a W3C <c>traceparent</c> header, as a calling app's instrumentation
    /// sends): the tracer listens to the whole test process, where other tests start runs with the same ids.
    /// </summary>
    private static async Task<(long RunId, string TraceId)> StartTracedAsync(HttpClient client, object body, CancellationToken ct)
    {
        var trace = ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/t/alpha/operations") { Content = JsonContent.Create(body) };
        request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var started = await client.SendAsync(request, ct);
        started.StatusCode.Should().Be(HttpStatusCode.Accepted);
        return ((await started.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetInt64(), trace);
    }

    /// <summary>The hub's spans of one run in <paramref name="trace"/>, once the start, claim and execute spans have all arrived.</summary>
    private async Task<IReadOnlyList<OtlpSpan>> SpansOfRunAsync(long runId, string trace, CancellationToken ct)
    {
        var id = runId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var spans = _collector.Spans.Where(s => s.TraceId == trace && s.Scope == HubTracing.SourceName
                && s.Attributes.TryGetValue(HubTracing.RunIdTag, out var tag) && tag == id).ToList();
            if (new[] { HubTracing.StartSpan, HubTracing.ClaimSpan, HubTracing.ExecuteSpan }.All(n => spans.Any(s => s.Name == n)))
            {
                return spans;
            }

            clock.Elapsed.Should().BeLessThan(Budget, $"run {runId}'s spans reach the collector within the batch delay");
            await Task.Delay(100, ct);
        }
    }

    private sealed class TracedHubFactory(Uri collector) : HubAppFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["Logging:LogLevel:OperationsHub"] = "Information",
            ["Telemetry:TraceViewerUrl"] = TraceViewer,
            ["Worker:Enabled"] = "true",
            ["Worker:PollInterval"] = "00:00:00.200",
        };
    }
}
