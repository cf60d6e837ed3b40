using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// The docs say what the repository holds: README.md, docs/*.md, bench/README.md and the client libraries' READMEs link only to files and folders
/// inside it, every curl calls a route the service has, every C# snippet compiles against the Kiota client generated
/// from openapi.json, every TypeScript snippet type-checks against openapi-typescript's types of it, and every test
/// docs/guarantees.md names exists. The snippet conventions are docs/development.md's, "Docs".
/// </summary>
public sealed partial class DocsTests
{
    /// <summary>Routes the service serves outside openapi.json (operators' and Swagger's).</summary>
    private static readonly string[] UndocumentedRoutes = ["/health/live", "/health/ready", "/swagger", "/swagger/v1/swagger.json", "/metrics"];

    /// <summary>What a console app's implicit usings bring: a snippet may use these without its own directives.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;


    private static readonly Lazy<IReadOnlyList<Doc>> AllDocs = new(() =>
        [.. new[] { "README.md", Path.Combine("bench", "README.md"), Path.Combine("clients", "dotnet", "README.md"), Path.Combine("clients", "typescript", "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md").Select(file => Path.GetRelativePath(RepositoryRoot.Path, file)))
            .Select(Doc.Read)]);

    private static IReadOnlyList<Doc> Docs => AllDocs.Value;

    [Fact]
    public void Every_relative_link_points_at_a_file_or_folder_inside_the_repository_and_every_anchor_at_a_heading()
    {
        List<string> broken = [];
        var links = 0;
        foreach (var doc in Docs)
        {
            foreach (var (target, line) in doc.Links())
            {
                if (IsExternal(target))
                {
                    continue;
                }

                links++;
                var (file, anchor) = SplitAnchor(target);
                var path = file.Length == 0 ? doc.FullPath : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(doc.FullPath)!, Uri.UnescapeDataString(file)));
                if (file.StartsWith('/') || !IsInsideRepository(path))
                {
                    broken.Add($"{doc.Name}:{line}: {target} leaves the repository");
                }
                else if (!File.Exists(path) && !Directory.Exists(path))
                {
                    broken.Add($"{doc.Name}:{line}: {target} does not exist");
                }
                else if (anchor.Length > 0 && path.EndsWith(".md", StringComparison.Ordinal) && !Doc.Read(Path.GetRelativePath(RepositoryRoot.Path, path)).Anchors().Contains(anchor))
                {
                    broken.Add($"{doc.Name}:{line}: {target} names no heading of {Path.GetRelativePath(RepositoryRoot.Path, path)}");
                }
            }
        }

        Assert.True(links > 0, "No relative link found: the link reader is broken.");
        Assert.True(broken.Count == 0, string.Join('\n', broken));
    }

    [Fact]
    public void Every_curl_calls_a_route_and_method_of_openapi_json_or_a_health_swagger_or_metrics_route()
    {
        using var openApi = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "openapi.json")));
        var routes = openApi.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (Method: operation.Name.ToUpperInvariant(), Template: path.Name)))
            .Concat(UndocumentedRoutes.Select(path => (Method: "GET", Template: path)))
            .ToList();

        List<string> wrong = [];
        var calls = 0;
        foreach (var doc in Docs)
        {
            foreach (var (command, line) in doc.CurlCommands())
            {
                calls++;
                if (Curl.Parse(command) is not { } call)
                {
                    wrong.Add($"{doc.Name}:{line}: no $API URL in `{command}`");
                }
                else if (!routes.Any(route => route.Method == call.Method && Matches(route.Template, call.Path)))
                {
                    wrong.Add($"{doc.Name}:{line}: {call.Method} {call.Path} is not a route of openapi.json");
                }
            }
        }

        Assert.True(calls > 0, "No curl command found: the curl reader is broken.");
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public void Every_csharp_snippet_compiles_as_top_level_statements_against_the_kiota_client()
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(typeof(DocsTests).Assembly.Location)
            .Distinct(StringComparer.Ordinal)
            .Select(path => MetadataReference.CreateFromFile(path))
            .ToList();
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable);

        List<string> failed = [];
        var snippets = 0;
        foreach (var doc in Docs)
        {
            foreach (var snippet in doc.CodeBlocks.Where(block => block.Language is "csharp" or "cs" or "c#"))
            {
                snippets++;
                var compilation = CSharpCompilation.Create(
                    $"snippet{snippets}",
                    [CSharpSyntaxTree.ParseText(ImplicitUsings, parse), CSharpSyntaxTree.ParseText(snippet.Text, parse, path: $"{doc.Name}:{snippet.Line}")],
                    references,
                    options);
                var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
                if (errors.Count > 0)
                {
                    // The snippet's first line is the fence's next one: the diagnostic's line, counted from the fence.
                    failed.AddRange(errors.Select(e => $"{doc.Name}:{snippet.Line + e.Location.GetLineSpan().StartLinePosition.Line + 1}: {e.Id} {e.GetMessage(CultureInfo.InvariantCulture)}"));
                }
            }
        }

        Assert.True(snippets > 0, "No C# snippet found: the code block reader is broken.");
        Assert.True(failed.Count == 0, string.Join('\n', failed));
    }

    [Fact]
    public async Task Every_typescript_snippet_type_checks_against_openapi_typescripts_types_of_openapi_json()
    {
        var folder = Directory.CreateTempSubdirectory("docs-ts-").FullName;
        try
        {
            // As a partner makes them (docs/api.md, "Generate a client"): each snippet imports them from "./ordercancel";
            // or it imports the TypeScript library, "@ordercancel/client" (its source, with the types npm ci generated).
            await OpenApiTools.RunAsync("openapi-typescript", Path.Combine(RepositoryRoot.Path, "openapi.json"), "--output", Path.Combine(folder, "ordercancel.d.ts"));
            List<string> files = [];
            foreach (var doc in Docs)
            {
                foreach (var snippet in doc.CodeBlocks.Where(block => block.Language is "ts" or "typescript"))
                {
                    var name = $"{doc.Name.Replace('/', '_').Replace('.', '_')}_line_{snippet.Line}.ts";
                    // Each file is a module of its own, so two snippets may declare the same names.
                    await File.WriteAllTextAsync(Path.Combine(folder, name), snippet.Text + "\nexport {};\n");
                    files.Add(name);
                }
            }

            Assert.True(files.Count > 0, "No TypeScript snippet found: the code block reader is broken.");
            var project = new
            {
                compilerOptions = new
                {
                    strict = true,
                    noEmit = true,
                    target = "ES2022",
                    module = "ES2022",
                    moduleResolution = "bundler",
                    skipLibCheck = true,
                    paths = new Dictionary<string, string[]> { ["@ordercancel/client"] = [Path.Combine(RepositoryRoot.Path, "clients", "typescript", "src", "index.ts")] },
                    // Node's types, for a snippet of a webhook receiver (the library's own @types/node).
                    typeRoots = new[] { Path.Combine(RepositoryRoot.Path, "clients", "typescript", "node_modules", "@types") },
                    types = new[] { "node" },
                },
                files,
            };
            await File.WriteAllTextAsync(Path.Combine(folder, "tsconfig.json"), JsonSerializer.Serialize(project));
            await OpenApiTools.RunAsync("tsc", "--project", Path.Combine(folder, "tsconfig.json"), "--pretty", "false");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Every_test_docs_guarantees_md_names_is_a_test_and_every_guarantee_names_one()
    {
        var guarantees = Docs.Single(doc => doc.Name == "docs/guarantees.md");
        var tests = typeof(DocsTests).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(method => method.GetCustomAttribute<FactAttribute>() is not null)
                .Select(method => (Class: type.Name, Method: method.Name)))
            .ToList();

        List<string> missing = [];
        var rows = 0;
        foreach (var (row, line) in guarantees.TableRows())
        {
            rows++;
            var named = TestReference().Matches(row).ToList();
            if (named.Count == 0)
            {
                missing.Add($"docs/guarantees.md:{line}: a guarantee that names no test");
            }

            foreach (var reference in named)
            {
                var (type, method) = (reference.Groups["class"].Value, reference.Groups["method"].Value);
                if (!tests.Any(test => test.Class == type && (method == "*" || test.Method == method)))
                {
                    missing.Add($"docs/guarantees.md:{line}: {type}.{method} is not a test of this assembly");
                }
            }
        }

        Assert.True(rows > 0, "No guarantee found: the table reader is broken.");
        Assert.True(missing.Count == 0, string.Join('\n', missing));
    }

    private static bool IsExternal(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase);

    private static (string File, string Anchor) SplitAnchor(string target) =>
        target.IndexOf('#', StringComparison.Ordinal) is var hash and >= 0 ? (target[..hash], target[(hash + 1)..]) : (target, "");

    private static bool IsInsideRepository(string path)
    {
        var root = RepositoryRoot.Path.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return path.StartsWith(root, StringComparison.Ordinal) || path == RepositoryRoot.Path;
    }

    /// <summary>A path template's <c>{name}</c> segment takes a value (an id, a variable, an elision); the others only themselves.</summary>
    private static bool Matches(string template, string path)
    {
        var expected = template.Split('/');
        var actual = path.Split('/');
        return expected.Length == actual.Length && expected.Zip(actual).All(pair =>
            pair.First.StartsWith('{') ? IsValue(pair.Second) : pair.First == pair.Second);
    }

    private static bool IsValue(string segment) =>
        segment.Length > 0 && (segment.All(char.IsAsciiDigit) || segment.StartsWith('$') || segment.Contains('…', StringComparison.Ordinal)
            || segment.Contains("...", StringComparison.Ordinal) || Guid.TryParse(segment, out _));

    /// <summary><c>SomethingTests.Method</c> or <c>SomethingTests.*</c>, in backticks.</summary>
    [GeneratedRegex(@"`(?<class>[A-Z][A-Za-z0-9_]*Tests)\.(?<method>\*|[A-Za-z_][A-Za-z0-9_]*)`")]
    private static partial Regex TestReference();

    /// <summary>An inline link or image, <c>[text](target "title")</c>: its target.</summary>
    [GeneratedRegex(@"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?(?<target>[^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex InlineLink();

    /// <summary>A link reference definition, <c>[label]: target</c>.</summary>
    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*<?(?<target>[^\s>]+)>?")]
    private static partial Regex LinkDefinition();

    [GeneratedRegex(@"`+[^`]*`+")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(?<fence>`{3,}|~{3,})\s*(?<language>[^\s`]*)")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^#{1,6}\s+(?<title>.+?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^\|[\s:|-]+\|\s*$")]
    private static partial Regex TableSeparator();

    [GeneratedRegex(@"(?:^|[\s;&|(])curl\s")]
    private static partial Regex CurlStart();

    private sealed record CodeBlock(string Language, string Text, int Line);

    /// <summary>One Markdown file: its prose lines and its fenced code blocks, with their line numbers.</summary>
    private sealed class Doc
    {
        private readonly string[] _lines;
        private readonly bool[] _inCode;

        private Doc(string name, string[] lines)
        {
            Name = name.Replace('\\', '/');
            FullPath = Path.Combine(RepositoryRoot.Path, name);
            _lines = lines;
            _inCode = new bool[lines.Length];
            List<CodeBlock> blocks = [];
            for (var i = 0; i < lines.Length; i++)
            {
                if (Fence().Match(lines[i].TrimStart()) is not { Success: true } open)
                {
                    continue;
                }

                var fence = open.Groups["fence"].Value;
                var start = i;
                var body = new StringBuilder();
                _inCode[i] = true;
                for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith(fence, StringComparison.Ordinal); i++)
                {
                    _inCode[i] = true;
                    body.Append(lines[i]).Append('\n');
                }

                if (i < lines.Length)
                {
                    _inCode[i] = true;
                }

                // Line: the fence's, 1-based; the snippet's first line is the next.
                blocks.Add(new CodeBlock(open.Groups["language"].Value.ToLowerInvariant(), Dedent(body.ToString()), start + 1));
            }

            CodeBlocks = blocks;
        }

        public string Name { get; }

        public string FullPath { get; }

        public IReadOnlyList<CodeBlock> CodeBlocks { get; }

        public static Doc Read(string name) => new(name, File.ReadAllLines(Path.Combine(RepositoryRoot.Path, name)));

        /// <summary>Link targets of the prose (code spans and blocks are not links).</summary>
        public IEnumerable<(string Target, int Line)> Links()
        {
            for (var i = 0; i < _lines.Length; i++)
            {
                if (_inCode[i])
                {
                    continue;
                }

                var prose = CodeSpan().Replace(_lines[i], "");
                foreach (Match link in InlineLink().Matches(prose))
                {
                    yield return (link.Groups["target"].Value, i + 1);
                }

                if (LinkDefinition().Match(prose) is { Success: true } definition)
                {
                    yield return (definition.Groups["target"].Value, i + 1);
                }
            }
        }

        /// <summary>GitHub's ids of the headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered.</summary>
        public HashSet<string> Anchors()
        {
            HashSet<string> anchors = new(StringComparer.Ordinal);
            for (var i = 0; i < _lines.Length; i++)
            {
                if (_inCode[i] || Heading().Match(_lines[i]) is not { Success: true } heading)
                {
                    continue;
                }

                var slug = new string([.. heading.Groups["title"].Value.ToLowerInvariant()
                    .Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_')
                    .Select(c => c == ' ' ? '-' : c)]);
                var unique = slug;
                for (var n = 1; !anchors.Add(unique); n++)
                {
                    unique = $"{slug}-{n}";
                }
            }

            return anchors;
        }

        /// <summary>Every curl command, in code blocks (continuation lines joined, comments dropped) and in code spans.</summary>
        public IEnumerable<(string Command, int Line)> CurlCommands()
        {
            foreach (var block in CodeBlocks)
            {
                var lines = block.Text.Split('\n');
                for (var i = 0; i < lines.Length; i++)
                {
                    var first = i;
                    var command = new StringBuilder();
                    while (true)
                    {
                        var text = lines[i].TrimStart().StartsWith('#') ? "" : lines[i];
                        if (!text.TrimEnd().EndsWith('\\') || i + 1 >= lines.Length)
                        {
                            command.Append(text);
                            break;
                        }

                        command.Append(text.TrimEnd()[..^1]).Append(' ');
                        i++;
                    }

                    foreach (var curl in Curl.Split(command.ToString()))
                    {
                        yield return (curl, block.Line + first + 1);
                    }
                }
            }

            for (var i = 0; i < _lines.Length; i++)
            {
                if (_inCode[i])
                {
                    continue;
                }

                foreach (Match span in CodeSpan().Matches(_lines[i]))
                {
                    var code = span.Value.Trim('`');
                    if (code.StartsWith("curl ", StringComparison.Ordinal))
                    {
                        yield return (code, i + 1);
                    }
                }
            }
        }

        /// <summary>The body rows of the Markdown tables: each run of lines starting with <c>|</c> but its header and separator.</summary>
        public IEnumerable<(string Row, int Line)> TableRows()
        {
            for (var i = 0; i < _lines.Length; i++)
            {
                var inTable = !_inCode[i] && _lines[i].StartsWith('|');
                var header = inTable && (i == 0 || !_lines[i - 1].StartsWith('|'));
                if (inTable && !header && !TableSeparator().IsMatch(_lines[i]))
                {
                    yield return (_lines[i], i + 1);
                }
            }
        }

        /// <summary>A block indented under a list item is compiled as it would be pasted: without that indent.</summary>
        private static string Dedent(string text)
        {
            var lines = text.Split('\n');
            var indent = lines.Where(line => line.Trim().Length > 0).Select(line => line.Length - line.TrimStart().Length).DefaultIfEmpty(0).Min();
            return string.Join('\n', lines.Select(line => line.Length >= indent ? line[indent..] : line.TrimStart()));
        }
    }

    /// <summary>What a curl command calls: its method and the path after <c>$API</c>.</summary>
    private sealed record Curl(string Method, string Path)
    {
        /// <summary>The curl commands of one shell line (a pipeline or a <c>$( … )</c> may hold several).</summary>
        public static IEnumerable<string> Split(string line)
        {
            var starts = CurlStart().Matches(line).Select(match => match.Index + match.Value.IndexOf("curl", StringComparison.Ordinal)).ToList();
            for (var i = 0; i < starts.Count; i++)
            {
                yield return line[starts[i]..(i + 1 < starts.Count ? starts[i + 1] : line.Length)].Trim();
            }
        }

        public static Curl? Parse(string command)
        {
            var words = Words(command);
            string? method = null;
            string? url = null;
            var sendsData = false;
            for (var i = 1; i < words.Count; i++)
            {
                var word = words[i];
                if (word is "|" or ";" or "&&" or "||" or ")")
                {
                    break;
                }

                if (word is "-X" or "--request" && i + 1 < words.Count)
                {
                    method = words[++i];
                }
                else if (word.StartsWith("-X", StringComparison.Ordinal) && word.Length > 2)
                {
                    method = word[2..];
                }
                else if (word is "-d" or "--data" or "--data-raw" or "--data-binary" or "--json")
                {
                    sendsData = true;
                    i++;
                }
                else if (word is "-H" or "--header" or "-o" or "--output" or "-u" or "--user")
                {
                    i++;
                }
                else if (word.Contains("$API", StringComparison.Ordinal) || word.Contains("${API}", StringComparison.Ordinal))
                {
                    url = word;
                }
            }

            if (url is null)
            {
                return null;
            }

            var variable = url.Contains("${API}", StringComparison.Ordinal) ? "${API}" : "$API";
            var path = url[(url.IndexOf(variable, StringComparison.Ordinal) + variable.Length)..].Split('?', '#')[0];
            return new Curl((method ?? (sendsData ? "POST" : "GET")).ToUpperInvariant(), path);
        }

        /// <summary>Shell words: quotes group and are removed, operators stand alone.</summary>
        private static List<string> Words(string command)
        {
            List<string> words = [];
            var word = new StringBuilder();
            var inWord = false;
            for (var i = 0; i < command.Length; i++)
            {
                var c = command[i];
                if (c is '\'' or '"')
                {
                    var close = command.IndexOf(c, i + 1);
                    close = close < 0 ? command.Length : close;
                    word.Append(command, i + 1, close - i - 1);
                    inWord = true;
                    i = close;
                }
                else if (char.IsWhiteSpace(c) || c is '|' or ';' or ')')
                {
                    if (inWord)
                    {
                        words.Add(word.ToString());
                        word.Clear();
                        inWord = false;
                    }

                    if (!char.IsWhiteSpace(c))
                    {
                        words.Add(c.ToString());
                    }
                }
                else
                {
                    word.Append(c);
                    inWord = true;
                }
            }

            if (inWord)
            {
                words.Add(word.ToString());
            }

            return words;
        }
    }
}
