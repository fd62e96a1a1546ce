using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Testing;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>Server-side sessions on both providers: activity, ending, and that nothing revives an ended session.</summary>
public abstract class HubSessionsTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new(provider);

    private HubSessions Sessions => _hub.Bunit.Services.GetRequiredService<HubSessions>();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Activity_IsWrittenByTheFlush_NotByTheCheck()
    {
        var before = DateTime.UtcNow - TimeSpan.FromHours(1);
        await SetLastSeenAsync(before);

        (await Sessions.CheckAsync(_hub.OwnerPrincipal, touch: true, default)).Should().Be(SessionState.Live);
        (await LastSeenAsync()).Should().BeCloseTo(before, TimeSpan.FromSeconds(1), "a request never waits on a write");

        (await Sessions.FlushActivityAsync(default)).Should().Be(1);
        (await LastSeenAsync()).Should().BeAfter(before + TimeSpan.FromMinutes(59));
        (await Sessions.FlushActivityAsync(default)).Should().Be(0, "what was written is not written again");
    }

    [Fact]
    public async Task AFlushAfterSignOut_NeverRevivesTheSession()
    {
        await SetLastSeenAsync(DateTime.UtcNow - TimeSpan.FromHours(1));
        await Sessions.CheckAsync(_hub.OwnerPrincipal, touch: true, default);
        await Sessions.EndAsync(_hub.OwnerPrincipal, SessionEndReason.SignedOut, default);

        await Sessions.FlushActivityAsync(default);

        (await Sessions.CheckAsync(_hub.OwnerPrincipal, touch: true, default)).Should().Be(SessionState.SignedOut);
    }

    [Fact]
    public async Task EndAll_EndsEverySessionOfTheUser_AndNoOneElses()
    {
        var second = await Sessions.StartAsync(_hub.Owner.UserId, default);
        await using (var db = await _hub.DbAsync())
        {
            var other = new HubUser { DisplayName = "Other" };
            db.Users.Add(other);
            await db.SaveChangesAsync();
            await Sessions.StartAsync(other.Id, default);
        }

        (await Sessions.EndAllAsync(_hub.Owner.UserId, SessionEndReason.LockedOut, default)).Should().Be(2);

        (await Sessions.CheckAsync(_hub.OwnerPrincipal, touch: false, default)).Should().Be(SessionState.LockedOut);
        second.Should().NotBeNullOrEmpty();
        await using var check = await _hub.DbAsync();
        (await check.Sessions.CountAsync(s => s.EndedAt == null)).Should().Be(1);
    }

    [Fact]
    public async Task ASessionPastItsAbsoluteLifetime_IsExpired_HoweverActive()
    {
        await using (var db = await _hub.DbAsync())
        {
            await db.Sessions.ExecuteUpdateAsync(s => s.SetProperty(x => x.CreatedAt, DateTime.UtcNow - TimeSpan.FromHours(25)));
        }

        (await Sessions.CheckAsync(_hub.OwnerPrincipal, touch: true, default)).Should().Be(SessionState.Expired);
    }

    [Fact]
    public async Task AForgedToken_OrAnotherUsersToken_IsMissing()
    {
        var forged = new System.Security.Claims.ClaimsPrincipal(HubClaims.CreateIdentity(_hub.Owner.UserId, "x", null, "forged", "Test"));
        var token = _hub.OwnerPrincipal.FindFirst(HubClaims.SessionId)!.Value;
        var otherUser = new System.Security.Claims.ClaimsPrincipal(HubClaims.CreateIdentity(_hub.Owner.UserId + 1000, "x", null, token, "Test"));

        (await Sessions.CheckAsync(forged, touch: false, default)).Should().Be(SessionState.Missing);
        (await Sessions.CheckAsync(otherUser, touch: false, default)).Should().Be(SessionState.Missing);
    }

    [Fact]
    public async Task Prune_DeletesOnlySessionsThatCanNeverBeLiveAgain()
    {
        await Sessions.StartAsync(_hub.Owner.UserId, default); // live
        await Sessions.EndAsync(_hub.OwnerPrincipal, SessionEndReason.SignedOut, default); // ended now

        (await Sessions.PruneAsync(DateTime.UtcNow - TimeSpan.FromDays(1), default)).Should().Be(0, "the ended one is kept a day to explain itself");
        (await Sessions.PruneAsync(DateTime.UtcNow + TimeSpan.FromSeconds(1), default)).Should().Be(1);
        await using var db = await _hub.DbAsync();
        (await db.Sessions.CountAsync()).Should().Be(1);
    }

    private async Task SetLastSeenAsync(DateTime at)
    {
        await using var db = await _hub.DbAsync();
        await db.Sessions.ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, at));
    }

    private async Task<DateTime> LastSeenAsync()
    {
        await using var db = await _hub.DbAsync();
        return await db.Sessions.Select(s => s.LastSeenAt).SingleAsync();
    }
}

public sealed class HubSessionsTestsOnSqlite() : HubSessionsTests(TestProvider.Sqlite);

public sealed class HubSessionsTestsOnPostgreSql() : HubSessionsTests(TestProvider.PostgreSql);
