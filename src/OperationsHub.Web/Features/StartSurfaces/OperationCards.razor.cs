using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Operations;
using OperationsHub.Web.Features.Live;
using OperationsHub.Web.Features.Notifications;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web.Features.StartSurfaces;

public sealed partial class OperationCards
{
    private readonly Dictionary<(string Type, string Input), string> _inputs = [];
    private readonly HashSet<string> _starting = new(StringComparer.Ordinal);
    private IReadOnlyList<OperationTypeDescriptor> _types = [];
    private IReadOnlyDictionary<string, OperationCardState> _states = new Dictionary<string, OperationCardState>();

    [Inject]
    private OperationCardQueries Queries { get; set; } = default!;

    [Inject]
    private RunCommands Commands { get; set; } = default!;

    [Inject]
    private OperationTypeRegistry Registry { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private Auth.RevalidatingSessionStateProvider Sessions { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [Parameter, EditorRequired]
    public TenantContext Tenant { get; set; } = default!;

    private DateTime Now => Time.GetUtcNow().UtcDateTime;

    protected override async Task OnInitializedAsync()
    {
        _types = Registry.All.Where(t => !t.Internal).OrderBy(t => t.DisplayName, StringComparer.Ordinal).ToList();
        _states = await Queries.GetAsync(Tenant.TenantId, Disposing);
        Watch(RunChangeScope.ForTenant(Tenant.TenantId), async _ => _states = await Queries.GetAsync(Tenant.TenantId, Disposing), progress: false);
    }

    private async Task StartAsync(OperationTypeDescriptor type)
    {
        if (!_starting.Add(type.Type))
        {
            return;
        }

        try
        {
            var identity = type.IdentityInputs.ToDictionary(i => i, i => Input(type.Type, i).Trim(), StringComparer.Ordinal);
            var user = (await AuthenticationState).User;
            var target = type.TargetFor(identity);
            var result = await Commands.StartAsync(user, Tenant.ExternalId, new StartRunInput(type.Type, identity, target), Disposing);
            if (result.Status == CommandStatus.Unauthenticated)
            {
                // The session ended (signed out elsewhere, locked, expired): the page turns into the signed-out notice.
                await Sessions.EnsureLiveAsync(Disposing);
                return;
            }

            if (!result.Succeeded)
            {
                Snackbar.Add(result.Message ?? "The operation could not be started.", Severity.Warning);
                return;
            }

            RunToast.Started(Snackbar, type.DisplayName, result.Value!, RunLink(result.Value!.Run.Id), target);
            _states = await Queries.GetAsync(Tenant.TenantId, Disposing);
        }
        finally
        {
            _starting.Remove(type.Type);
        }
    }


    private bool HasInputs(OperationTypeDescriptor type) => type.IdentityInputs.All(i => !string.IsNullOrWhiteSpace(Input(type.Type, i)));

    private string Input(string type, string input) => _inputs.GetValueOrDefault((type, input)) ?? "";

    private void SetInput(string type, string input, string? value) => _inputs[(type, input)] = value ?? "";


    private string RunLink(long runId) => HubLinks.Run(Tenant.ExternalId, runId);
}
