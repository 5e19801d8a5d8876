# Windows counterpart of setup.sh.
#   .\setup.ps1 serve    install, start the local database (unless MONGODB_URI points elsewhere), seed, run
#   .\setup.ps1 test     install and run the whole test suite
#   .\setup.ps1 install  install only (venv + requirements + FerretDB)
param([ValidateSet("install", "test", "serve")][string]$Command = "install")
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot

$Venv = ".venv"
$Python = Join-Path $Venv "Scripts\python.exe"
$FerretVersion = "v1.24.2"
$FerretBin = ".tools\bin\ferretdb.exe"

function Install-Python {
    if (-not (Test-Path $Python)) { py -3 -m venv $Venv }
    & $Python -m pip install --quiet --upgrade pip
    & $Python -m pip install --quiet -r requirements-dev.txt
}

function Install-Database {
    if ((Get-Command mongod -ErrorAction SilentlyContinue) -or (Test-Path $FerretBin)) { return }
    if (-not (Get-Command go -ErrorAction SilentlyContinue)) { throw "Go is needed to build FerretDB (or install mongod)" }
    Write-Host "Building FerretDB $FerretVersion (one time)..."
    # Build from a writable copy of the module: its zip lacks the version file FerretDB embeds.
    $moduleDir = (go mod download -json "github.com/FerretDB/FerretDB@$FerretVersion" | ConvertFrom-Json).Dir
    $buildDir = Join-Path ([System.IO.Path]::GetTempPath()) ("ferretdb-" + [guid]::NewGuid())
    Copy-Item -Recurse $moduleDir $buildDir
    Get-ChildItem -Recurse $buildDir | ForEach-Object { $_.IsReadOnly = $false } -ErrorAction SilentlyContinue
    Set-Content -NoNewline -Path (Join-Path $buildDir "build\version\version.txt") -Value $FerretVersion
    New-Item -ItemType Directory -Force -Path (Split-Path $FerretBin) | Out-Null
    $target = (Resolve-Path (Split-Path $FerretBin)).Path + "\ferretdb.exe"
    Push-Location $buildDir
    try { go build -o $target ./cmd/ferretdb } finally { Pop-Location; Remove-Item -Recurse -Force $buildDir }
}

function Start-Service {
    if (-not (Test-Path .env)) { Copy-Item .env.example .env; Write-Host "Created .env from .env.example: fill in your keys." }
    $uri = $env:MONGODB_URI
    if (-not $uri) { $uri = (Select-String -Path .env -Pattern '^MONGODB_URI=(.*)$' | Select-Object -Last 1).Matches.Groups[1].Value }
    if (-not $uri) { $uri = "mongodb://127.0.0.1:27017/" }
    $db = $null
    $listening = Test-NetConnection -ComputerName 127.0.0.1 -Port 27017 -InformationLevel Quiet -WarningAction SilentlyContinue
    if ($uri -match '^mongodb://(127\.0\.0\.1|localhost):27017/?$' -and -not $listening) {
        $db = Start-Process -PassThru -NoNewWindow $Python -ArgumentList "-m", "devtools.ferretdb", "--port", "27017", "--data", ".data\db"
        Start-Sleep -Seconds 2
    }
    try {
        & $Python app.py seed
        & $Python app.py
    } finally {
        if ($db) { Stop-Process -Id $db.Id -ErrorAction SilentlyContinue }
    }
}

switch ($Command) {
    "install" { Install-Python; Install-Database }
    "test" {
        Install-Python; Install-Database
        $Bin = Split-Path $Python
        & (Join-Path $Bin "ruff") check .; if ($LASTEXITCODE) { exit $LASTEXITCODE }
        & (Join-Path $Bin "ruff") format --check .; if ($LASTEXITCODE) { exit $LASTEXITCODE }
        & (Join-Path $Bin "mypy"); if ($LASTEXITCODE) { exit $LASTEXITCODE }
        $Workers = if ($env:TEST_WORKERS) { $env:TEST_WORKERS } else { "2" }  # as setup.sh: pytest-xdist
        & $Python -m pytest -q -n $Workers --dist loadfile; exit $LASTEXITCODE
    }
    "serve" { Install-Python; Install-Database; Start-Service }
}
