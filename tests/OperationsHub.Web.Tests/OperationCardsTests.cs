using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.StartSurfaces;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

public sealed class OperationCardsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Start_EnqueuesAtOnce_ThenTheSameWorkIsDedupedToTheActiveRun()
    {
        var cards = Render(_hub.Tenant);

        cards.Find("[data-testid='start-policy_sync']").Click();
        cards.WaitForAssertion(() => Snackbars().Should().ContainSingle(s => s.Message!.StartsWith("Policy sync queued", StringComparison.Ordinal)));
        cards.WaitForAssertion(() => cards.Find("[data-operation='policy_sync'] [data-testid='card-active']").TextContent.Should().Contain("Queued"));

        cards.Find("[data-testid='start-policy_sync']").Click();
        cards.WaitForAssertion(() => Snackbars().Should().Contain(s => s.Message!.StartsWith("Already running", StringComparison.Ordinal)));
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync(r => r.Type == "policy_sync")).Should().Be(1);
    }

    [Fact]
    public async Task Restore_NeedsItsIdentityInput_BeforeItCanStart()
    {
        var cards = Render(_hub.Tenant);

        cards.Find("[data-testid='start-restore']").HasAttribute("disabled").Should().BeTrue();
        cards.Find("input[data-testid='input-restore-backup_id']").Input("bk-2");
        cards.WaitForAssertion(() => cards.Find("[data-testid='start-restore']").HasAttribute("disabled").Should().BeFalse());
        cards.Find("[data-testid='start-restore']").Click();

        cards.WaitForAssertion(() => Snackbars().Should().ContainSingle(s => s.Message!.StartsWith("Restore queued", StringComparison.Ordinal)));
        await using var db = await _hub.DbAsync();
        (await db.Runs.SingleAsync(r => r.Type == "restore")).ContextJson.Should().Contain("bk-2");
    }

    [Fact]
    public void ReadonlyMember_SeesTheCardsButNoStartButtons()
    {
        var cards = Render(_hub.Tenant with { Role = TenantRole.Readonly });

        cards.FindAll("[data-operation]").Should().HaveCount(5);
        cards.FindAll("[data-testid^='start-']").Should().BeEmpty();
        cards.Find("[data-testid='readonly-note']").TextContent.Should().Contain("Readonly");
    }

    private IRenderedComponent<OperationCards> Render(Features.Tenants.TenantContext tenant)
    {
        var identity = HubClaims.CreateIdentity(tenant.UserId, tenant.UserName, null, "Test");
        var state = Task.FromResult(new AuthenticationState(new System.Security.Claims.ClaimsPrincipal(identity)));
        return _hub.Bunit.Render<OperationCards>(p => p
            .Add(c => c.Tenant, tenant)
            .AddCascadingValue(state));
    }

    private IEnumerable<Snackbar> Snackbars() => _hub.Bunit.Services.GetRequiredService<ISnackbar>().ShownSnackbars;
}
