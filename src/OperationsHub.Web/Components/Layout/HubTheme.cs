using MudBlazor;

namespace OperationsHub.Web.Components.Layout;

/// <summary>The brand palette. Colours live here, not in CSS, so light and dark stay consistent.</summary>
internal static class HubTheme
{
    public static MudTheme Create() => new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1f5fbf",
            Secondary = "#6b4fbb",
            AppbarBackground = "#12305c",
            AppbarText = "#ffffff",
            Background = "#f6f8fb",
            // Darker than MudBlazor's default so labels and captions keep 4.5:1 on the tinted background.
            TextSecondary = "rgba(0,0,0,0.7)",
            DrawerBackground = "#ffffff",
            // #17692f: white on it is 6.4:1, a margin over AA that survives a toast's bold run number and its shadow.
            Success = "#17692f",
            Warning = "#a85d00",
            Error = "#c62828",
            Info = "#1565c0",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#7fb0ff",
            Secondary = "#b39dff",
            AppbarBackground = "#0d1b2e",
            Background = "#0f1720",
            Surface = "#16212d",
            DrawerBackground = "#121c27",
            Success = "#5fd38b",
            Warning = "#ffb74d",
            Error = "#ff8a80",
            Info = "#82b1ff",
            // Dark mode's status colours are light, so text on them (filled toasts, badges, chips) is near-black:
            // white on #5fd38b is 1.9:1 and on #ff8a80 2.3:1; #10131a on each is 9:1 or more (WCAG AA wants 4.5:1).
            SuccessContrastText = "#10131a",
            PrimaryContrastText = "#10131a",
            SecondaryContrastText = "#10131a",
            WarningContrastText = "#10131a",
            ErrorContrastText = "#10131a",
            InfoContrastText = "#10131a",
        },
        Typography = new Typography
        {
            // System fonts: nothing is fetched from the internet.
            Default = new DefaultTypography
            {
                FontFamily = ["-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
            },
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "232px" },
    };
}
