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

        var result = await Commands.StartAsync(As(World.AlphaReadonly), TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
        result.Message.Should().Contain("Readonly");
        (await RunCountAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Start_InAnotherTenant_IsRefused()
    {
        var result = await Commands.StartAsync(As(World.AlphaOwner), TestWorld.Beta, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task Start_ByReadonlyMemberOfThatTenant_EvenWithManagerRoleElsewhere_IsRefused()
    {
        var result = await Commands.StartAsync(As(World.BothTenants), TestWorld.Beta, new StartRunInput(SampleOperations.PolicySync), default);

        result.Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task Start_ByOperator_CreatesARunAttributedToThem()
    {
        var result = await Commands.StartAsync(As(World.AlphaOperator), TestWorld.Alpha,
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
        var result = await Commands.StartAsync(As(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(type), default);

        result.Status.Should().Be(CommandStatus.Invalid);
    }

    [Fact]
    public async Task Start_MissingIdentityInput_IsInvalidAndNamesIt()
    {
        var result = await Commands.StartAsync(As(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(SampleOperations.Restore), default);

        result.Status.Should().Be(CommandStatus.Invalid);
        result.Message.Should().Contain("backup_id");
    }

    [Fact]
    public async Task Cancel_ByOperatorOfSomeoneElsesRun_IsRefused_ByManagerAllowed()
    {
        var started = await Commands.StartAsync(As(World.AlphaOwner), TestWorld.Alpha, new StartRunInput(SampleOperations.PolicySync), default);
        var runId = started.Value!.Run.Id;

        (await Commands.CancelAsync(As(World.AlphaOperator), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.CancelAsync(As(World.AlphaReadonly), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Forbidden);
        (await RunAsync(runId)).Status.Should().Be(RunStatus.Queued);

        (await Commands.CancelAsync(As(World.BothTenants), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Ok);
        (await RunAsync(runId)).Outcome.Should().Be(RunOutcome.Cancelled);
        (await Commands.CancelAsync(As(World.AlphaOwner), TestWorld.Alpha, runId, default)).Status.Should().Be(CommandStatus.Conflict);
    }

    [Fact]
    public async Task Cancel_RunOfAnotherTenant_IsRefused()
    {
        (await Commands.CancelAsync(As(World.AlphaOwner), TestWorld.Alpha, World.BetaRunId, default)).Status.Should().Be(CommandStatus.Forbidden);
        (await Commands.CancelAsync(As(World.AlphaOwner), TestWorld.Beta, World.BetaRunId, default)).Status.Should().Be(CommandStatus.Forbidden);
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

    private static ClaimsPrincipal As(TestUser user) =>
        new(HubClaims.CreateIdentity(user.Id, user.Name, null, "Test"));

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
