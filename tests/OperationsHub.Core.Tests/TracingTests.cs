using System.Collections.Concurrent;
using System.Diagnostics;
using OperationsHub.Core.Diagnostics;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>
/// The run's trace across the queue, on each provider: the start span's context is stored with the run and comes back
/// with the claim, so the claim and execute spans continue that trace (the execute span linked to the start).
/// </summary>
public abstract class TracingTests(TestProvider provider) : IAsyncLifetime
{
    // Tests of other classes run alongside and their spans reach every listener: each test works inside a root span
    // of its own and reads only the spans of that trace.
    private const string TestSourceName = "OperationsHub.Core.Tests";
    private static readonly ActivitySource TestSource = new(TestSourceName);
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private Activity? _root;
    private EngineHarness _hub = null!;
    private ActivityListener _listener = null!;

    public async ValueTask InitializeAsync()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is HubTracing.SourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
        _hub = await EngineHarness.CreateAsync(provider);
    }

    public async ValueTask DisposeAsync()
    {
        _root?.Dispose();
        _listener.Dispose();
        await _hub.DisposeAsync();
    }

    [Fact]
    public async Task AStartedRun_StoresTheStartSpansContext_AndTheBatchClaimReturnsIt()
    {
        using var root = Begin();
        var run = (await _hub.StartAsync()).Run;

        var start = Span(HubTracing.StartSpan, run.Id);
        var stored = await _hub.GetRunAsync(run.Id);
        stored.TraceParent.Should().Be(start.Id).And.MatchRegex("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$");
        HubTracing.TraceIdOf(stored.TraceParent).Should().Be(start.TraceId.ToHexString());
        start.Kind.Should().Be(ActivityKind.Producer);
        start.GetTagItem(HubTracing.TenantIdTag).Should().Be(_hub.TenantId);
        start.GetTagItem(HubTracing.DedupedTag).Should().Be(false);

        var claimed = await _hub.Transitions.TryClaimBatchAsync("worker-a", TimeSpan.FromMinutes(1), 10, default);

        claimed.Should().ContainSingle(r => r.RunId == run.Id).Which.TraceParent.Should().Be(start.Id);
        var claim = Span(HubTracing.ClaimSpan, run.Id);
        claim.ParentSpanId.Should().Be(start.SpanId);
        claim.TraceId.Should().Be(start.TraceId);
    }

    [Fact]
    public async Task ADedupedStart_IsTaggedSo_AndKeepsTheFirstStartsTrace()
    {
        using var root = Begin();
        var first = (await _hub.StartAsync()).Run;
        var again = await _hub.StartAsync();

        again.Deduped.Should().BeTrue();
        var starts = Spans(HubTracing.StartSpan, first.Id);
        starts.Should().HaveCount(2);
        starts.Select(s => s.GetTagItem(HubTracing.DedupedTag)).Should().BeEquivalentTo(new object[] { false, true });
        (await _hub.GetRunAsync(first.Id)).TraceParent.Should().Be(starts.Single(s => false.Equals(s.GetTagItem(HubTracing.DedupedTag))).Id);
    }

    [Fact]
    public async Task TheExecution_IsAChildOfTheStart_LinkedToIt_WithItsOutcome()
    {
        using var root = Begin();
        var run = (await _hub.StartAsync(TestOperations.Partial)).Run;

        await _hub.Executor.ExecuteAsync(run.Id, CancellationToken.None);

        var start = Span(HubTracing.StartSpan, run.Id);
        var execute = Span(HubTracing.ExecuteSpan, run.Id);
        execute.Kind.Should().Be(ActivityKind.Consumer);
        execute.TraceId.Should().Be(start.TraceId);
        execute.ParentSpanId.Should().Be(start.SpanId);
        execute.Links.Should().ContainSingle().Which.Context.SpanId.Should().Be(start.SpanId);
        execute.GetTagItem(HubTracing.TypeTag).Should().Be(TestOperations.Partial);
        execute.GetTagItem(HubTracing.WorkerTag).Should().Be(_hub.Worker.Name);
        var stored = await _hub.GetRunAsync(run.Id);
        execute.GetTagItem(HubTracing.OutcomeTag).Should().Be(HubTracing.OutcomeName(stored.Outcome));
        stored.Outcome.Should().Be(RunOutcome.PartiallySucceeded);
        execute.Status.Should().Be(ActivityStatusCode.Error);
    }

    [Fact]
    public void TraceIdOf_ReadsOnlyAWellFormedTraceParent()
    {
        HubTracing.TraceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").Should().Be("4bf92f3577b34da6a3ce929d0e0e4736");
        HubTracing.TraceIdOf(null).Should().BeNull();
        HubTracing.TraceIdOf("").Should().BeNull();
        HubTracing.TraceIdOf("00-not-a-trace-01").Should().BeNull();
    }

    /// <summary>The test's root span: current for the rest of the test method (an AsyncLocal set in InitializeAsync would not be).</summary>
    private Activity Begin() => _root = TestSource.StartActivity("test") ?? throw new InvalidOperationException("The test's listener is not on.");

    private Activity Span(string name, long runId) => Spans(name, runId).Should().ContainSingle().Subject;

    private List<Activity> Spans(string name, long runId) =>
        [.. _stopped.Where(a => a.TraceId == _root!.TraceId && a.OperationName == name && runId.Equals(a.GetTagItem(HubTracing.RunIdTag)))];
}

public sealed class TracingTestsOnSqlite() : TracingTests(TestProvider.Sqlite);

public sealed class TracingTestsOnPostgreSql() : TracingTests(TestProvider.PostgreSql);
