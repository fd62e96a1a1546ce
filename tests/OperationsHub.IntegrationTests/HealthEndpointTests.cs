using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// The endpoints a load balancer uses: liveness (<c>/healthz</c>) and readiness (<c>/healthz/ready</c>: the database
/// and this node's worker), anonymous, answering 200 or 503 with each check named and nothing about the server.
/// </summary>
public abstract class HealthEndpointTests(TestProvider provider) : IAsyncLifetime
{
    private WorkerNode _app = null!;

    public async ValueTask InitializeAsync()
    {
        _app = new WorkerNode(provider);
        await _app.InitializeWorldAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Ready_WithTheDatabaseUpAndTheWorkerRunning_Is200_NamingBothChecks()
    {
        using var client = _app.CreateClient();
        (await client.GetStringAsync("/healthz", TestContext.Current.CancellationToken)).Should().Be("ok");

        // The worker's loop starts with the scheduler, a moment after the host.
        var (status, body) = await ReadyAsync(client);
        for (var i = 0; i < 50 && (status != HttpStatusCode.OK || body.GetProperty("status").GetString() != "Healthy"); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            (status, body) = await ReadyAsync(client);
        }

        status.Should().Be(HttpStatusCode.OK, body.ToString());
        body.GetProperty("status").GetString().Should().Be("Healthy");
        body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString().Should().Be("Healthy");
        var worker = body.GetProperty("checks").GetProperty("worker");
        worker.GetProperty("status").GetString().Should().Be("Healthy");
        worker.GetProperty("description").GetString().Should().Be($"The worker is running 0 of {new OperationsHub.Core.Worker.WorkerOptions().MaxConcurrency} runs.");
        var feed = body.GetProperty("checks").GetProperty("changeFeed");
        feed.GetProperty("status").GetString().Should().Be("Healthy");
        feed.GetProperty("description").GetString().Should().Be(provider == TestProvider.Sqlite
            ? "One node on this database: changes need no relay."
            : "The change feed hears the other nodes.");
    }

    [Fact]
    public async Task Ready_OnAPageOnlyNode_IsReady_AndSaysTheWorkerIsOff()
    {
        await using var pagesOnly = new PagesOnlyNode(provider);
        await pagesOnly.InitializeWorldAsync();
        using var client = pagesOnly.CreateClient();

        var (status, body) = await ReadyAsync(client);

        status.Should().Be(HttpStatusCode.OK);
        body.GetProperty("checks").GetProperty("worker").GetProperty("description").GetString()
            .Should().Be("The worker is off on this node (Worker:Enabled is false).");
    }

    protected static async Task<(HttpStatusCode Status, JsonElement Body)> ReadyAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/healthz/ready", TestContext.Current.CancellationToken);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/json");
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    protected WorkerNode App => _app;

    protected sealed class WorkerNode(TestProvider provider) : HubAppFactory(provider)
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Worker:Enabled"] = "true" };
    }

    private sealed class PagesOnlyNode(TestProvider provider) : HubAppFactory(provider);
}

public sealed class HealthEndpointTestsOnSqlite() : HealthEndpointTests(TestProvider.Sqlite);

public sealed class ChangeFeedHealthCheckTests
{
    [Fact]
    public async Task ALostListener_IsDegraded_SoTheNodeStaysInRotationWhileItReconnects()
    {
        using var services = new ServiceCollection()
            .AddSingleton<OperationsHub.Core.Feed.IChangeFeedRelay>(new Relay(listening: false))
            .BuildServiceProvider();

        var result = await new OperationsHub.Web.Features.Health.ChangeFeedHealthCheck(services)
            .CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext(), TestContext.Current.CancellationToken);

        result.Status.Should().Be(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded);
        result.Description.Should().Contain("reconnecting");
    }

    private sealed class Relay(bool listening) : OperationsHub.Core.Feed.IChangeFeedRelay
    {
        public bool Listening => listening;
    }
}

public sealed class HealthEndpointTestsOnPostgreSql() : HealthEndpointTests(TestProvider.PostgreSql)
{
    [Fact]
    public async Task Ready_WhenTheDatabaseStopsTakingConnections_Is503_WithoutNamingTheServer()
    {
        using var client = App.CreateClient();
        var database = new NpgsqlConnectionStringBuilder(App.DatabaseConnectionString).Database!;
        await using (var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString()))
        {
            await admin.OpenAsync(TestContext.Current.CancellationToken);
            await using var refuse = new NpgsqlCommand(
                $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false;"
                + $" SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid();",
                admin);
            await refuse.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        try
        {
            NpgsqlConnection.ClearAllPools();
            var (status, body) = await ReadyAsync(client);

            status.Should().Be(HttpStatusCode.ServiceUnavailable);
            body.GetProperty("status").GetString().Should().Be("Unhealthy");
            var check = body.GetProperty("checks").GetProperty("database");
            check.GetProperty("status").GetString().Should().Be("Unhealthy");
            check.GetProperty("description").GetString().Should().Be("The database does not answer.");
            body.ToString().Should().NotContain(database).And.NotContain("Host=").And.NotContain("localhost");
        }
        finally
        {
            await using var admin = new NpgsqlConnection(TestDatabase.ServerConnectionString());
            await admin.OpenAsync(CancellationToken.None);
            await using var allow = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true", admin);
            await allow.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }
}
