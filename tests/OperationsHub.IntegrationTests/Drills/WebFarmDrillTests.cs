using System.Data.Common;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Testing;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// Two hub processes on one database, each with a home folder of its own (so each has a disk of its own, as two
/// machines would): a sign-in cookie and an antiforgery token issued by one node work on the other, because the Data
/// Protection key ring is in the database, not on either node's disk.
/// </summary>
public abstract class WebFarmDrillTests(TestProvider provider) : FarmDrill(provider)
{
    private const string Operations = "/admin/t/contoso/operations";
    private HubProcess? _nodeA;
    private HubProcess? _nodeB;

    public override async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await base.InitializeAsync();
        // One after the other, as a rolling start would: the first creates the key ring, the second finds it.
        // Node A serves pages only; node B runs the worker, polling so rarely that only a wake-up explains a prompt claim.
        _nodeA = await Farm.StartAsync(NodeSettings(worker: false), ct);
        _nodeB = await Farm.StartAsync(NodeSettings(worker: true), ct);
    }

    /// <summary>The poll of node B's worker: far beyond any wait in these tests.</summary>
    protected static readonly TimeSpan WorkerPoll = TimeSpan.FromMinutes(2);

    private protected HubProcess NodeA => _nodeA!;

    private protected HubProcess NodeB => _nodeB!;

    [Fact]
    public async Task ASignInOnOneNode_OpensPagesOnTheOther_AndItsFormsPostThere()
    {
        var ct = TestContext.Current.CancellationToken;
        var cookies = new CookieContainer();
        using var onA = Client(_nodeA!, cookies);
        using var onB = Client(_nodeB!, cookies); // the same browser: the cookie is for 127.0.0.1, whatever the port

        using (var signIn = await FormSignIn.SignInAsync(onA, "operator@contoso.test", Web.Features.Demo.DemoSeed.DemoPassword, "/", ct))
        {
            signIn.StatusCode.Should().Be(HttpStatusCode.Redirect, _nodeA!.Output);
        }

        using (var page = await onB.GetAsync(Operations, ct))
        {
            page.StatusCode.Should().Be(HttpStatusCode.OK, "node B unprotects the cookie node A protected\n" + _nodeB!.Output);
        }

        // An antiforgery token node A rendered, posted to node B: sign-out is accepted there (400 if B cannot read it).
        var token = await FormSignIn.AntiforgeryTokenFromAsync(onA, "/account/login", ct);
        using (var signOut = await onB.PostAsync("/account/logout",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }), ct))
        {
            signOut.StatusCode.Should().Be(HttpStatusCode.Redirect, "node B validates the token node A issued\n" + _nodeB!.Output);
        }

        // The session is in the database too: signed out on B is signed out on A.
        using (var afterOnA = await onA.GetAsync(Operations, ct))
        {
            afterOnA.StatusCode.Should().Be(HttpStatusCode.Redirect);
        }
    }

    [Fact]
    public async Task TwoHundredIdenticalStartsSplitOverBothNodes_MakeOneRun_OneAcceptedAndTheRestPointedAtIt()
    {
        var ct = TestContext.Current.CancellationToken;
        using var onA = _nodeA!.ApiClient();
        using var onB = _nodeB!.ApiClient();

        // Long enough that the run is still active when the last start arrives, whichever node's worker takes it.
        var body = new
        {
            type = "inventory_sync",
            inputs = new Dictionary<string, string> { ["items"] = "300", ["item_delay_ms"] = "100", ["fail_every"] = "0" },
            target = "Farm dedupe drill",
        };
        using var go = new ManualResetEventSlim();
        var starts = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            go.Wait(ct);
            using var response = await (i % 2 == 0 ? onA : onB).PostAsJsonAsync("/api/t/contoso/operations", body, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var json = JsonDocument.Parse(text).RootElement;
            return (response.StatusCode, Id: json.TryGetProperty("id", out var id) ? id.GetInt64() : 0, Body: text);
        }, ct)).ToList();
        go.Set();
        var answers = await Task.WhenAll(starts);

        var refused = string.Join("\n", answers.Where(a => a.StatusCode is not (HttpStatusCode.Accepted or HttpStatusCode.OK))
            .Select(a => $"{(int)a.StatusCode}: {a.Body}").Distinct());
        refused.Should().BeEmpty("no start is refused");
        answers.Count(a => a.StatusCode == HttpStatusCode.Accepted).Should().Be(1, "one start creates the run");
        answers.Count(a => a.StatusCode == HttpStatusCode.OK).Should().Be(199, "every other start is pointed at it");
        answers.Select(a => a.Id).Distinct().Should().ContainSingle("all 200 answers name the same run");
        (await CountRunsAsync("Farm dedupe drill", ct)).Should().Be(1);
    }

    [Fact]
    public async Task TheKeyRing_IsOneSetOfRowsInTheDatabase_AndNoNodeKeepsKeysOnItsDisk()
    {
        var ct = TestContext.Current.CancellationToken;
        using var onA = Client(_nodeA!, new CookieContainer());
        (await FormSignIn.SignInAsync(onA, "owner@contoso.test", Web.Features.Demo.DemoSeed.DemoPassword, "/", ct)).StatusCode
            .Should().Be(HttpStatusCode.Redirect);

        var keys = await KeyXmlAsync(ct);
        keys.Should().ContainSingle("the second node found the first node's key instead of making its own")
            .Which.Should().Contain("<key id=");
        foreach (var home in Farm.Homes)
        {
            Directory.Exists(Path.Combine(home.FullName, ".aspnet", "DataProtection-Keys"))
                .Should().BeFalse($"no key is written to a node's own disk ({home.FullName})");
        }
    }

    private static Dictionary<string, string> NodeSettings(bool worker) => new()
    {
        ["Worker:Enabled"] = worker ? "true" : "false",
        ["Worker:PollInterval"] = WorkerPoll.ToString(),
    };

    private static HttpClient Client(HubProcess node, CookieContainer cookies) =>
        new(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = node.Address };

    private async Task<long> CountRunsAsync(string target, CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM operation_runs WHERE target = @target";
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@target";
        parameter.Value = target;
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<List<string>> KeyXmlAsync(CancellationToken ct)
    {
        await using var connection = await Farm.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT xml FROM data_protection_keys";
        await using var reader = await command.ExecuteReaderAsync(ct);
        var keys = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }
}

public sealed class WebFarmDrillTestsOnSqlite() : WebFarmDrillTests(TestProvider.Sqlite);

/// <summary>On PostgreSQL the nodes also share the change feed (LISTEN / NOTIFY).</summary>
public sealed class WebFarmDrillTestsOnPostgreSql() : WebFarmDrillTests(TestProvider.PostgreSql)
{
    [Fact]
    public async Task ARunStartedOnAPageOnlyNode_IsClaimedByTheOtherNodesWorkerAtOnce_WokenByTheFeed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var onA = NodeA.ApiClient();

        using var start = await onA.PostAsJsonAsync("/api/t/contoso/operations",
            new { type = "policy_sync", inputs = new Dictionary<string, string> { ["items"] = "3", ["item_delay_ms"] = "10" }, target = "Farm drill" }, ct);
        start.StatusCode.Should().Be(HttpStatusCode.Accepted, await start.Content.ReadAsStringAsync(ct));
        var id = JsonDocument.Parse(await start.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("id").GetInt64();

        // Node B's worker last polled when it started, and polls again only after WorkerPoll: the run completes well
        // before that only if node A's start reached node B through the feed.
        var deadline = DateTime.UtcNow + WorkerPoll / 4;
        string? status = null;
        while (DateTime.UtcNow < deadline)
        {
            using var run = await onA.GetAsync($"/api/t/contoso/operations/{id}", ct);
            status = JsonDocument.Parse(await run.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("status").GetString();
            if (status == "Completed")
            {
                break;
            }

            await Task.Delay(100, ct);
        }

        status.Should().Be("Completed", $"node B claims a run queued on node A when the feed wakes it\n{NodeA.Output}\n{NodeB.Output}");
    }
}
