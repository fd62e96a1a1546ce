using System.Data.Common;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// A database that cannot take requests (here SQLite answering SQLITE_BUSY to every query, as a file locked past the
/// busy timeout does) makes pages and the API answer 503 with Retry-After, never 500.
/// </summary>
public sealed class TransientFailureTests : IAsyncLifetime
{
    private readonly BusyDatabaseApp _app = new();

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task ABusyDatabase_AnswersTheApiWith503ProblemDetails_AndRetryAfter()
    {
        using var client = _app.CreateApiClientFor(_app.World.AlphaOperator);
        _app.Busy.Set();

        using var response = await client.GetAsync($"/api/t/alpha/operations/{_app.World.AlphaRunId}", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        body.Should().Contain("The hub is busy").And.NotContain("SQLite").And.NotContain("Exception");
    }

    [Fact]
    public async Task ABusyDatabase_AnswersAPageWith503_AndAWayToTryAgain()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOperator);
        _app.Busy.Set();

        using var response = await client.GetAsync("/admin/t/alpha/operations?q=<x>", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
        var html = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        html.Should().Contain("The hub is busy").And.Contain("href=\"/admin/t/alpha/operations?q=%3Cx%3E\"", "a link back to the same address")
            .And.NotContain("<x>");

        _app.Busy.Reset();
        using var after = await client.GetAsync("/admin/t/alpha/operations", TestContext.Current.CancellationToken);
        after.StatusCode.Should().Be(HttpStatusCode.OK, "the next try, once the database answers, works");
    }
}
