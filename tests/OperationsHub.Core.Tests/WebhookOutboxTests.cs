using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Storage;
using OperationsHub.Core.Tests.Infrastructure;
using OperationsHub.Core.Webhooks;

namespace OperationsHub.Core.Tests;

/// <summary>
/// The webhook outbox on each provider: a transition writes one pending delivery per endpoint of the run's tenant that
/// is on and whose event, type and outcome filters match, in the transition's own commit; nothing for other tenants.
/// </summary>
public abstract class WebhookOutboxTests(TestProvider provider) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() => _hub = await EngineHarness.CreateAsync(provider);

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task QueuedAndCompleted_WriteOneDeliveryPerMatchingEndpoint_WithTheRunAsTheEventSawIt()
    {
        var all = await EndpointAsync("all", WebhookEvents.Queued | WebhookEvents.Completed);
        var failuresOfSucceedType = await EndpointAsync("failures", WebhookEvents.Completed, types: ",test_succeed,", outcomes: ",Failed,");
        var succeededOnly = await EndpointAsync("succeeded", WebhookEvents.Completed, outcomes: ",Succeeded,");
        var otherType = await EndpointAsync("other-type", WebhookEvents.Queued | WebhookEvents.Completed, types: ",test_partial,");
        var off = await EndpointAsync("off", WebhookEvents.Queued | WebhookEvents.Completed, disabled: true);
        var otherTenant = await EndpointAsync("fabrikam", WebhookEvents.Queued | WebhookEvents.Completed, tenantId: _hub.OtherTenantId);

        var run = (await _hub.StartAsync()).Run;
        var afterQueued = await DeliveriesAsync(run.Id);
        var claimed = (await _hub.Transitions.TryClaimAsync(run.Id, "w", Lease, default))!;
        (await _hub.Transitions.TryCompleteAsync(claimed, "w", RunOutcome.Succeeded, new RunCounts(3, 3, 3, 0, 0), [], 0, default))
            .Should().NotBeNull();
        var deliveries = await DeliveriesAsync(run.Id);

        afterQueued.Should().ContainSingle().Which.EndpointId.Should().Be(all);
        deliveries.Select(d => (d.EndpointId, d.Event)).Should().BeEquivalentTo(new[]
        {
            (all, WebhookEventNames.Queued), (all, WebhookEventNames.Completed), (succeededOnly, WebhookEventNames.Completed),
        });
        deliveries.Select(d => d.EndpointId).Should().NotContain([failuresOfSucceedType, otherType, off, otherTenant]);
        deliveries.Should().OnlyContain(d => d.Status == WebhookDeliveryStatus.Pending && d.Attempts == 0 && d.TenantId == _hub.TenantId);
        var completed = JsonDocument.Parse(deliveries.First(d => d.Event == WebhookEventNames.Completed).PayloadJson).RootElement;
        completed.GetProperty("type").GetString().Should().Be("test_succeed");
        completed.GetProperty("status").GetString().Should().Be("Completed");
        completed.GetProperty("outcome").GetString().Should().Be("Succeeded");
        completed.GetProperty("succeeded").GetInt32().Should().Be(3);
        completed.GetProperty("startedAt").ValueKind.Should().Be(JsonValueKind.String);
        var queued = JsonDocument.Parse(deliveries.First(d => d.Event == WebhookEventNames.Queued).PayloadJson).RootElement;
        queued.GetProperty("status").GetString().Should().Be("Queued");
        queued.GetProperty("startedAt").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public async Task AFailedRun_ReachesTheEndpointThatFiltersForFailures_AndTypeFiltersMatchWholeNamesOnly()
    {
        var failures = await EndpointAsync("failures", WebhookEvents.Completed, types: ",test_succeed,", outcomes: ",Failed,");
        // "test_succeed" must not match a filter of "test?succeed" shapes: the underscore is literal in the filter.
        var lookalike = await EndpointAsync("lookalike", WebhookEvents.Completed, types: ",testXsucceed,");
        var run = (await _hub.StartAsync()).Run;

        await _hub.Transitions.TryFailQueuedAsync(run.Id, new RunFailure("dispatch_failed", "The worker could not be reached."), default);

        var deliveries = await DeliveriesAsync(run.Id);
        deliveries.Should().ContainSingle().Which.EndpointId.Should().Be(failures);
        deliveries.Select(d => d.EndpointId).Should().NotContain(lookalike);
        JsonDocument.Parse(deliveries[0].PayloadJson).RootElement.GetProperty("outcome").GetString().Should().Be("Failed");
    }

    [Fact]
    public async Task ADedupedStart_WritesNoSecondQueuedDelivery_AndRetentionPrunesDeliveriesWithTheirRun()
    {
        var all = await EndpointAsync("all", WebhookEvents.Queued | WebhookEvents.Completed);
        var run = (await _hub.StartAsync()).Run;
        (await _hub.StartAsync()).Deduped.Should().BeTrue();
        (await DeliveriesAsync(run.Id)).Should().ContainSingle();

        await _hub.Transitions.TryCancelQueuedAsync(run.Id, "Alice Admin", null, default);
        await using (var db = await _hub.DbAsync())
        {
            var delivery = await db.WebhookDeliveries.FirstAsync(d => d.RunId == run.Id);
            db.WebhookAttempts.Add(new WebhookAttempt { DeliveryId = delivery.Id, At = DateTime.UtcNow, StatusCode = 200 });
            await db.SaveChangesAsync();
        }

        var pruned = await _hub.Services.GetRequiredService<IRunStore>().PruneAsync(DateTime.UtcNow.AddMinutes(1), 100, default);

        pruned.Select(p => p.RunId).Should().Contain(run.Id);
        await using var after = await _hub.DbAsync();
        (await after.WebhookDeliveries.CountAsync(d => d.RunId == run.Id)).Should().Be(0);
        (await after.WebhookAttempts.CountAsync()).Should().Be(0);
        (await after.WebhookEndpoints.CountAsync(e => e.Id == all)).Should().Be(1, "an endpoint outlives the runs it heard of");
    }

    [Fact]
    public async Task ATenantWithoutWebhooks_SkipsTheOutbox_UntilOneIsRegistered_HereAtOnce_ElsewhereWithinTheRefresh()
    {
        var listeners = _hub.Services.GetRequiredService<WebhookListeners>();
        var first = (await _hub.StartAsync()).Run;
        await WaitFor.ConditionAsync(() => Task.FromResult(!listeners.MayListen(_hub.TenantId)), "the first read finds no webhook for the tenant");
        var skipped = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = "2" })).Run;

        // Registered on another node (a row this node did not write): heard from the next read on.
        await EndpointAsync("elsewhere", WebhookEvents.Queued | WebhookEvents.Completed);
        await WaitFor.ConditionAsync(() => Task.FromResult(listeners.MayListen(_hub.TenantId)), "the next read finds it", TimeSpan.FromSeconds(10));
        var heard = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = "3" })).Run;

        (await DeliveriesAsync(first.Id)).Should().BeEmpty();
        (await DeliveriesAsync(skipped.Id)).Should().BeEmpty();
        (await DeliveriesAsync(heard.Id)).Should().ContainSingle().Which.Event.Should().Be(WebhookEventNames.Queued);
        listeners.MayListen(_hub.OtherTenantId).Should().BeFalse("the other tenant has none");
        listeners.Registered(_hub.OtherTenantId);
        listeners.MayListen(_hub.OtherTenantId).Should().BeTrue("a registration on this node counts at once, before the next read");
    }

    [Fact]
    public async Task ANodeIdleForAWhile_DoesNotTrustItsOldAnswer_AWebhookRegisteredElsewhereMeanwhileHearsItsNextRun()
    {
        var listeners = _hub.Services.GetRequiredService<WebhookListeners>();
        (await _hub.StartAsync()).Run.Should().NotBeNull();
        await WaitFor.ConditionAsync(() => Task.FromResult(!listeners.MayListen(_hub.TenantId)), "the first read finds no webhook for the tenant");

        // Registered on another node, while this one starts nothing for longer than two refresh intervals.
        await EndpointAsync("while-idle", WebhookEvents.Queued);
        await Task.Delay(WebhookListeners.RefreshInterval * 2.5);
        var run = (await _hub.StartAsync(identity: new Dictionary<string, string> { ["n"] = "after-idle" })).Run;

        (await DeliveriesAsync(run.Id)).Should().ContainSingle("the first run after the idle spell may not trust a stale \"no\"");
    }

    private async Task<long> EndpointAsync(
        string name, WebhookEvents events, string? types = null, string? outcomes = null, bool disabled = false, long? tenantId = null)
    {
        await using var db = await _hub.DbAsync();
        var endpoint = new WebhookEndpoint
        {
            TenantId = tenantId ?? _hub.TenantId,
            Name = name,
            Url = "https://receiver.example.test/" + name,
            ProtectedSecret = "protected",
            SecretHint = "whsec_test",
            Events = events,
            TypeFilter = types,
            OutcomeFilter = outcomes,
            CreatedAt = DateTime.UtcNow,
            DisabledAt = disabled ? DateTime.UtcNow : null,
        };
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync();
        return endpoint.Id;
    }

    private async Task<List<WebhookDelivery>> DeliveriesAsync(long runId)
    {
        await using var db = await _hub.DbAsync();
        return await db.WebhookDeliveries.AsNoTracking().Where(d => d.RunId == runId).OrderBy(d => d.Id).ToListAsync();
    }
}

public sealed class WebhookOutboxTestsOnSqlite() : WebhookOutboxTests(TestProvider.Sqlite);

public sealed class WebhookOutboxTestsOnPostgreSql() : WebhookOutboxTests(TestProvider.PostgreSql);

/// <summary>Where the hub may post: registration's rule and the connect-time rule for every resolved address.</summary>
public sealed class WebhookAddressTests
{
    private static readonly WebhookOptions Strict = new();
    private static readonly WebhookOptions Local = new() { AllowLoopback = true };

    [Theory]
    [InlineData("https://hooks.example.com/opshub")]
    [InlineData("https://10.1.2.3/intranet-receiver")]
    [InlineData("https://[2001:db8::5]/hooks")]
    public void PublicAndPrivateHttpsAddresses_AreAllowed(string url) => WebhookAddress.Refusal(url, Strict).Should().BeNull();

    [Theory]
    [InlineData("http://hooks.example.com/opshub", "https://")]
    [InlineData("https://169.254.169.254/latest/meta-data/", "link-local or cloud metadata")]
    [InlineData("https://[fe80::1]/x", "link-local or cloud metadata")]
    [InlineData("https://[::ffff:169.254.169.254]/x", "link-local or cloud metadata")]
    [InlineData("https://100.100.100.200/x", "link-local or cloud metadata")]
    [InlineData("https://0.0.0.0/x", "no request can be sent")]
    [InlineData("https://224.0.0.1/x", "no request can be sent")]
    [InlineData("https://user:pass@hooks.example.com/x", "user name or password")]
    [InlineData("ftp://hooks.example.com/x", "absolute https://")]
    [InlineData("/relative/path", "absolute https://")]
    [InlineData("", "Enter the endpoint's address")]
    [InlineData("http://127.0.0.1:9000/hook", "Webhooks:AllowLoopback")]
    [InlineData("https://localhost/hook", "Webhooks:AllowLoopback")]
    public void RefusedAddresses_SayWhy(string url, string why) =>
        WebhookAddress.Refusal(url, Strict).Should().Contain(why);

    [Fact]
    public void Loopback_OverHttp_IsAllowedOnlyWhereConfigured_AndNeverLinkLocal()
    {
        WebhookAddress.Refusal("http://127.0.0.1:9000/hook", Local).Should().BeNull();
        WebhookAddress.Refusal("http://localhost:9000/hook", Local).Should().BeNull();
        WebhookAddress.Refusal("http://169.254.169.254/", Local).Should().NotBeNull();
        WebhookAddress.Refusal("https://" + new string('a', 2100) + ".example.com/", Local).Should().Contain("longer than");
    }

    [Fact]
    public void ConnectTimeRule_RefusesMetadataAndLinkLocal_UnlessConfigured()
    {
        WebhookAddress.AddressRefusal(IPAddress.Parse("169.254.169.254"), Strict).Should().NotBeNull();
        WebhookAddress.AddressRefusal(IPAddress.Parse("169.254.10.20"), new WebhookOptions { AllowLinkLocal = true }).Should().BeNull();
        WebhookAddress.AddressRefusal(IPAddress.Loopback, Strict).Should().Be("a loopback address");
        WebhookAddress.AddressRefusal(IPAddress.IPv6Loopback, Local).Should().BeNull();
        WebhookAddress.AddressRefusal(IPAddress.Parse("93.184.216.34"), Strict).Should().BeNull();
    }

    [Fact]
    public void Backoff_DoublesFromTheFirstWait_UpToTheCap()
    {
        var options = new WebhookOptions { FirstBackoff = TimeSpan.FromSeconds(10), MaxBackoff = TimeSpan.FromMinutes(1) };

        options.BackoffAfter(1).Should().Be(TimeSpan.FromSeconds(10));
        options.BackoffAfter(2).Should().Be(TimeSpan.FromSeconds(20));
        options.BackoffAfter(3).Should().Be(TimeSpan.FromSeconds(40));
        options.BackoffAfter(4).Should().Be(TimeSpan.FromMinutes(1));
        options.BackoffAfter(40).Should().Be(TimeSpan.FromMinutes(1));
    }
}
