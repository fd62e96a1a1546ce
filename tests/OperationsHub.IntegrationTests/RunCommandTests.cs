using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Actions check membership and role inside the handler: these calls are what a forged circuit event or API call
/// would reach, whatever the UI showed or hid.
/// </summary>
public sealed class RunCommandTests : IAsyncLifetime
{
    private readonly HubAppFactory _app = new();

    private TestWorld World => _app.World;

    private RunCommands Commands => _app.Services.GetRequiredService<RunCommands>();

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Start_ByReadonlyMember_IsRefusedAndWritesNothing()
    {
        var before = await RunCountAsync();

        var result = await Commands.StartAsync(await _app.SignInAsync(World.AlphaReadonly), TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
        result.Message.Should().Contain("Readonly");
        (await RunCountAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Start_InAnotherTenant_IsRefused()
    {
        var result = await Commands.StartAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Beta, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task Start_ByReadonlyMemberOfThatTenant_EvenWithManagerRoleElsewhere_IsRefused()
    {
        var result = await Commands.StartAsync(await _app.SignInAsync(World.BothTenants), TestWorld.Beta, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task Start_ByOperator_CreatesARunAttributedToThem()
    {
        var result = await Commands.StartAsync(await _app.SignInAsync(World.AlphaOperator), TestWorld.Alpha,
            new StartRunInput(SampleOperations.PolicySync, Target: "All policies"), default);

        result.Status.Should().Be(CommandStatus.Ok);
        var run = await RunAsync(result.Value!.Run.Id);
        run.TenantId.Should().Be(World.AlphaTenantId);
        run.InitiatorUserId.Should().Be(World.AlphaOperator.Id);
        run.InitiatorName.Should().Be(World.AlphaOperator.Name);
    }

    [Theory]
    [InlineData("no_such_type")]
    [InlineData("")]
    public async Task Start_UnknownType_IsInvalid(string type)
    {
        var result = await Commands.StartAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(type), default);

        result.Status.Should().Be(CommandStatus.Invalid);
    }

    [Fact]
    public async Task Start_MissingIdentityInput_IsInvalidAndNamesIt()
    {
        var result = await Commands.StartAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(SampleOperations.Restore), default);

        result.Status.Should().Be(CommandStatus.Invalid);
        result.Message.Should().Contain("backup_id");
    }

    [Fact]
    public async Task Cancel_ByReadonlyMember_IsRefused_ByOperatorOfSomeoneElsesRun_Allowed()
    {
        var started = await Commands.StartAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default);
        var runId = started.Value!.Run.Id;

        (await Commands.CancelAsync(await _app.SignInAsync(World.AlphaReadonly), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Forbidden);
        (await RunAsync(runId)).Status.Should().Be(RunStatus.Queued);

        // Operators cancel their own runs and others' (issue 14: Operator cancels and retries; Manager and up, bulk).
        (await Commands.CancelAsync(await _app.SignInAsync(World.AlphaOperator), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Ok);
        (await RunAsync(runId)).Outcome.Should().Be(RunOutcome.Cancelled);
        (await Commands.CancelAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Conflict);
    }

    [Fact]
    public async Task Cancel_RunOfAnotherTenant_IsRefused()
    {
        (await Commands.CancelAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, World.BetaRunId, default)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.CancelAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Beta, World.BetaRunId, default)).Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task Commands_Anonymous_AreRefused()
    {
        var anonymous = new ClaimsPrincipal(new ClaimsIdentity());

        (await Commands.StartAsync(anonymous, TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default))
            .Status.Should().Be(CommandStatus.Unauthenticated);
        (await Commands.CancelAsync(anonymous, TestWorld.Alpha, World.AlphaRunId, default))
            .Status.Should().Be(CommandStatus.Unauthenticated);
    }

    [Theory]
    [InlineData(SessionEndReason.SignedOut)]
    [InlineData(SessionEndReason.LockedOut)]
    public async Task Commands_AfterTheSessionEnded_AreRefusedAndWriteNothing(SessionEndReason reason)
    {
        var owner = await _app.SignInAsync(World.AlphaOwner);
        var sessions = _app.Services.GetRequiredService<HubSessions>();
        if (reason == SessionEndReason.SignedOut)
        {
            await sessions.EndAsync(owner, reason, default);
        }
        else
        {
            await sessions.EndAllAsync(World.AlphaOwner.Id, reason, default);
        }

        var before = await RunCountAsync();

        var start = await Commands.StartAsync(owner, TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default);
        var cancel = await Commands.CancelAsync(owner, TestWorld.Alpha, World.AlphaRunId, default);

        start.Status.Should().Be(CommandStatus.Unauthenticated);
        start.Message.Should().Be(RunCommands.SignedOutMessage);
        cancel.Status.Should().Be(CommandStatus.Unauthenticated);
        (await RunCountAsync()).Should().Be(before);
        await using var db = await DbAsync();
        (await db.Runs.SingleAsync(r => r.Id == World.AlphaRunId)).CancelRequestedAt.Should().BeNull();
    }

    [Fact]
    public async Task Commands_AfterTheSessionWentIdlePastItsLifetime_AreRefused()
    {
        var owner = await _app.SignInAsync(World.AlphaOwner);
        var lifetime = _app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HubAuthenticationOptions>>().Value.SessionLifetime;
        await using (var db = await DbAsync())
        {
            await db.Sessions.Where(s => s.UserId == World.AlphaOwner.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, DateTime.UtcNow - lifetime - TimeSpan.FromMinutes(1)));
        }

        (await Commands.StartAsync(owner, TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default))
            .Status.Should().Be(CommandStatus.Unauthenticated);
        (await _app.Services.GetRequiredService<HubSessions>().CheckAsync(owner, touch: true, default))
            .Should().Be(SessionState.Expired, "a touch never revives an idle session");
    }

    [Fact]
    public async Task Start_AfterTheMembershipWasRemoved_IsRefusedAndSaysWhy()
    {
        var operatorUser = await _app.SignInAsync(World.AlphaOperator);
        (await Commands.StartAsync(operatorUser, TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default))
            .Status.Should().Be(CommandStatus.Ok);
        await using (var db = await DbAsync())
        {
            await db.Memberships.Where(m => m.UserId == World.AlphaOperator.Id).ExecuteDeleteAsync();
        }

        var before = await RunCountAsync();
        var result = await Commands.StartAsync(operatorUser, TestWorld.Alpha, new StartRunInput(SampleOperations.InventorySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
        result.Message.Should().Contain("membership may have been removed");
        (await RunCountAsync()).Should().Be(before);
    }

    private async Task<int> RunCountAsync()
    {
        await using var db = await DbAsync();
        return await db.Runs.CountAsync();
    }

    private async Task<OperationRun> RunAsync(long id)
    {
        await using var db = await DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == id);
    }

    private Task<HubDbContext> DbAsync() =>
        _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync();
}
