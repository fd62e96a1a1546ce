using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.ApiTokens;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The API tokens page: create (shown once), list with hint and status, revoke after a confirmation, read-only below Manager.</summary>
public sealed class ApiTokenComponentsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task AnOwner_CreatesAToken_SeesItOnce_AndRevokesItAfterConfirming()
    {
        var view = Render(_hub.Tenant);
        view.WaitForAssertion(() => view.Find("[data-testid='tokens-empty']"));
        view.FindAll("#token-role option").Select(o => o.TextContent).Should().Equal("Readonly", "Operator", "Manager", "Owner");
        view.Find("#token-expiry").GetAttribute("value").Should().Be("90", "90 days unless the creator picks another expiry");

        await view.Find("input[data-testid='token-name']").ChangeAsync(new ChangeEventArgs { Value = "ci-pipeline" });
        await view.Find("#token-role").ChangeAsync(new ChangeEventArgs { Value = "Operator" });
        await view.Find("form").SubmitAsync();

        view.WaitForAssertion(() => view.Find("[data-testid='token-created']"));
        var secret = view.Find("[data-testid='token-secret']").GetAttribute("value")!;
        secret.Should().StartWith(ApiTokenSecrets.Prefix);
        await using (var db = await _hub.DbAsync())
        {
            (await db.ApiTokens.SingleAsync(t => t.Name == "ci-pipeline")).SecretHash.Should().Be(ApiTokenSecrets.Hash(secret));
        }

        var row = view.Find("[data-token='ci-pipeline']");
        row.TextContent.Should().Contain("Operator").And.Contain(secret[..ApiTokenSecrets.HintLength] + "…").And.Contain("Never").And.Contain("Active");
        row.TextContent.Should().NotContain(secret, "the list shows a hint, never the token");
        view.Find("[data-testid='audit']").TextContent.Should().Contain("Created API token 'ci-pipeline' (Operator, expires");

        // Done: the secret is gone from the page for good.
        await view.Find("[data-testid='token-done']").ClickAsync(new());
        view.FindAll("[data-testid='token-secret']").Should().BeEmpty();
        view.Markup.Should().NotContain(secret);

        // Revoke asks first; keeping it changes nothing.
        var keep = view.Find("[data-testid='revoke-ci-pipeline']").ClickAsync(new());
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.Markup.Should().Contain("Revoke ci-pipeline?"));
        await _hub.Dialogs.FindAll("button").Single(b => b.TextContent.Trim() == "Keep it").ClickAsync(new());
        await keep.WaitAsync(TimeSpan.FromSeconds(10));
        view.Find("[data-token='ci-pipeline'] [data-testid='token-status']").TextContent.Trim().Should().Be("Active");

        var revoke = view.Find("[data-testid='revoke-ci-pipeline']").ClickAsync(new());
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.Markup.Should().Contain("Revoke ci-pipeline?"));
        await _hub.Dialogs.FindAll("button").Single(b => b.TextContent.Trim() == "Revoke").ClickAsync(new());
        await revoke.WaitAsync(TimeSpan.FromSeconds(10));

        view.WaitForAssertion(() => view.Find("[data-token='ci-pipeline'] [data-testid='token-status']").TextContent.Should().Contain("Revoked by Olivia Owner"));
        view.FindAll("[data-testid='revoke-ci-pipeline']").Should().BeEmpty("a revoked token has nothing left to revoke");
        await using var after = await _hub.DbAsync();
        (await after.ApiTokens.SingleAsync(t => t.Name == "ci-pipeline")).RevokedAt.Should().NotBeNull();
    }

    [Fact]
    public async Task ARefusedName_IsSaidAtTheField_AndNothingIsCreated()
    {
        var view = Render(_hub.Tenant);
        view.WaitForAssertion(() => view.Find("[data-testid='tokens-empty']"));

        await view.Find("form").SubmitAsync();

        view.WaitForAssertion(() => view.Markup.Should().Contain("Name the token after what will use it"));
        view.FindAll("[data-testid='token-created']").Should().BeEmpty();
        await using var db = await _hub.DbAsync();
        (await db.ApiTokens.CountAsync()).Should().Be(0);
    }

    [Fact]
    public void BelowManager_ThePageListsTokens_ButOffersNoCreateOrRevoke()
    {
        var view = Render(_hub.Tenant with { Role = TenantRole.Operator });

        view.WaitForAssertion(() => view.Find("[data-testid='tokens-readonly-note']").TextContent.Should().Contain("Only managers and owners"));
        view.FindAll("[data-testid='create-token']").Should().BeEmpty();
        view.FindAll("[data-testid^='revoke-']").Should().BeEmpty();
    }

    private IRenderedComponent<ApiTokensView> Render(OperationsHub.Web.Features.Tenants.TenantContext tenant) =>
        _hub.Bunit.Render<ApiTokensView>(p => p
            .Add(v => v.Tenant, tenant)
            .AddCascadingValue(_hub.AuthenticationStateFor(tenant)));
}
