using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Dedupe through the whole stack: 200 concurrent HTTP start requests for the same work over a real Kestrel socket
/// yield exactly one run: one 202 and 199 answers of 200 that point at it.
/// </summary>
public sealed class FullStackDedupeDrillTests : IAsyncLifetime
{
    private readonly HubAppFactory _app = new() { RealServer = true };

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task TwoHundredConcurrentStarts_OfTheSameWork_YieldOneRun()
    {
        const int requests = 200;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseCookies = false, AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = _app.ServerAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", _app.ApiTokenFor(_app.World.AlphaOperator));
        var body = new { type = "restore", identityInputs = new { backup_id = _app.World.AlphaBackupIds[0] }, target = "Drill" };
        using var go = new ManualResetEventSlim(false);

        var calls = Enumerable.Range(0, requests).Select(_ => Task.Run(async () =>
        {
            go.Wait();
            using var response = await client.PostAsJsonAsync("/api/t/alpha/operations", body);
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            return (response.StatusCode, Id: json.GetProperty("id").GetInt64());
        })).ToArray();
        go.Set();
        var results = await Task.WhenAll(calls);

        results.Count(r => r.StatusCode == HttpStatusCode.Accepted).Should().Be(1);
        results.Count(r => r.StatusCode == HttpStatusCode.OK).Should().Be(requests - 1);
        results.Select(r => r.Id).Distinct().Should().ContainSingle();
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        (await db.Runs.CountAsync(r => r.Type == "restore", TestContext.Current.CancellationToken)).Should().Be(1);
        (await db.Notifications.CountAsync(n => n.Kind == NotificationKinds.Queued, TestContext.Current.CancellationToken))
            .Should().Be(1, "deduped starts notify nobody again");
    }
}
