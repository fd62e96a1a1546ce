using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OperationsHub.Core.Domain;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Core.Samples;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>
/// Directory sync's delta rules on each provider, against a scripted directory (the HTTP side of Microsoft Graph is
/// covered by the integration tests' fake Graph): removed groups, an expired delta link, and a full resync.
/// </summary>
public abstract class DirectorySyncTests(TestProvider provider) : IAsyncLifetime
{
    private readonly ScriptedDirectory _directory = new();
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() =>
        _hub = await EngineHarness.CreateAsync(provider, configure: services =>
        {
            services.AddSingleton<IDirectoryClient>(_directory);
            services.AddSampleOperations();
        });

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task DeltaPages_AddUpdateSoftDeleteAndRemove_ThenAnExpiredLinkRestartsInFull()
    {
        _directory.Answer(null, new([G("a", "Alpha"), G("b", "Beta")], [], "next:1", null));
        _directory.Answer("next:1", new([G("c", "Gamma"), G("d", "Delta")], [], null, "delta:1"));
        var first = await SyncAsync();
        first.SucceededCount.Should().Be(4);
        (await NamesAsync()).Should().Equal("Alpha", "Beta", "Delta", "Gamma");

        // A rename, a group in the recycle bin ("changed": kept, marked) and one deleted for good ("deleted": gone).
        _directory.Answer("delta:1", new([G("a", "Alpha renamed")], [new("b", DirectoryRemoval.Changed), new("c", DirectoryRemoval.Deleted)], null, "delta:2"));
        var second = await SyncAsync();
        second.SucceededCount.Should().Be(3);
        await using (var db = await _hub.DbAsync())
        {
            var rows = await db.DirectoryGroups.Where(g => g.TenantId == _hub.TenantId).ToDictionaryAsync(g => g.ObjectId);
            rows.Keys.Should().BeEquivalentTo(["a", "b", "d"]);
            rows["a"].DisplayName.Should().Be("Alpha renamed");
            rows["b"].DeletedAt.Should().NotBeNull();
            rows["d"].DeletedAt.Should().BeNull();
            var state = await db.DirectorySyncStates.SingleAsync(s => s.TenantId == _hub.TenantId);
            (state.DeltaLink, state.LastAdded, state.LastUpdated, state.LastRemoved).Should().Be(("delta:2", 0, 1, 2));
        }

        // The directory forgot delta:2: the sync starts over, and "d", absent from the full read, is marked deleted.
        _directory.Expire("delta:2");
        _directory.Answer(null, new([G("a", "Alpha renamed"), G("e", "Epsilon")], [], null, "delta:3"));
        var third = await SyncAsync();
        third.Outcome.Should().Be(RunOutcome.Succeeded);
        _directory.Asked.Should().EndWith(["delta:2", null]);
        await using (var db = await _hub.DbAsync())
        {
            var live = await db.DirectoryGroups.Where(g => g.TenantId == _hub.TenantId && g.DeletedAt == null).Select(g => g.ObjectId).ToListAsync();
            live.Should().BeEquivalentTo(["a", "e"]);
            (await db.DirectorySyncStates.SingleAsync(s => s.TenantId == _hub.TenantId)).DeltaLink.Should().Be("delta:3");
        }

        (await _hub.GetEventsAsync(third.Id)).Should().Contain(e => e.Message.Contains("stored delta link had expired") && e.Message.Contains("1 added"));
    }

    [Fact]
    public async Task ASyncThatFailsHalfWay_KeepsTheOldDeltaLink_SoTheNextOneResumesFromIt()
    {
        _directory.Answer(null, new([G("a", "Alpha")], [], null, "delta:1"));
        await SyncAsync();
        _directory.Answer("delta:1", new([G("b", "Beta")], [], "next:broken", null));
        _directory.Fail("next:broken");

        var failed = await SyncAsync();

        failed.Outcome.Should().Be(RunOutcome.Failed);
        await using var db = await _hub.DbAsync();
        (await db.DirectorySyncStates.SingleAsync(s => s.TenantId == _hub.TenantId)).DeltaLink.Should().Be("delta:1");
        (await db.DirectoryGroups.CountAsync(g => g.TenantId == _hub.TenantId)).Should().Be(2, "the page applied before the failure stays: re-applying it is harmless");
    }

    private static DirectoryGroup G(string id, string name) => new(id, name, null, DirectoryGroupKind.Security);

    private async Task<List<string>> NamesAsync()
    {
        await using var db = await _hub.DbAsync();
        return await db.DirectoryGroups.Where(g => g.TenantId == _hub.TenantId).OrderBy(g => g.DisplayName).Select(g => g.DisplayName).ToListAsync();
    }

    private async Task<OperationRun> SyncAsync()
    {
        var result = await _hub.StartAsync(SampleOperations.DirectorySync);
        await _hub.Executor.ExecuteAsync(result.Run.Id, CancellationToken.None);
        return await _hub.GetRunAsync(result.Run.Id);
    }

    private sealed class ScriptedDirectory : IDirectoryClient
    {
        private readonly Dictionary<string, DirectoryDeltaPage> _pages = [];
        private readonly HashSet<string> _expired = [];
        private readonly HashSet<string> _failing = [];

        public List<string?> Asked { get; } = [];

        public void Answer(string? link, DirectoryDeltaPage page) => _pages[link ?? ""] = page;

        public void Expire(string link) => _expired.Add(link);

        public void Fail(string link) => _failing.Add(link);

        public Task<DirectoryDeltaPage> GetGroupsDeltaAsync(DirectoryScope scope, string? link, CancellationToken cancellationToken)
        {
            Asked.Add(link);
            if (link is not null && _expired.Contains(link))
            {
                throw new DirectoryDeltaExpiredException("gone");
            }

            if (link is not null && _failing.Contains(link))
            {
                throw new HttpRequestException("The directory dropped the connection.");
            }

            return Task.FromResult(_pages[link ?? ""]);
        }
    }
}

public sealed class DirectorySyncTestsOnSqlite() : DirectorySyncTests(TestProvider.Sqlite);

public sealed class DirectorySyncTestsOnPostgreSql() : DirectorySyncTests(TestProvider.PostgreSql);
