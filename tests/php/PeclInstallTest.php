<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * What this proves: a source checkout installs the way pecl and PIE install
 * extensions, `phpize && ./configure && make && make install` (config.m4 and
 * Makefile.frag), and the installed mqtt_broadcast.so loads into a bare PHP
 * (`php -n`, no ini file at all) and publishes to a real broker.
 *
 * It builds a copy of the checkout (the files git knows, target/ left out) in
 * a temporary directory and installs below a temporary INSTALL_ROOT, so it
 * touches neither the work tree nor PHP's real extension directory.
 *
 * The copy keeps the files' modification times and the build shares the
 * repository's cargo target directory (CARGO_TARGET_DIR), so after ./build.sh
 * has built target/ the cargo step finds nothing to do and the whole test
 * takes seconds, not the minutes of a fresh Rust build.
 */
final class PeclInstallTest extends MqttTestCase
{
    private const STEP_TIMEOUT = 100.0;

    private ?string $workDir = null;
    /** @var list<string> one line per step, for failure messages */
    private array $timings = [];

    protected function tearDown(): void
    {
        if ($this->workDir !== null) {
            (new BackgroundProcess(['rm', '-rf', $this->workDir], '/dev/null', '/dev/null'))->wait(30.0);
        }
        parent::tearDown();
    }

    public function testPhpizeBuildInstallsAnExtensionThatLoadsAndPublishes(): void
    {
        $repo = dirname(__DIR__, 2);
        [$phpize, $phpConfig] = self::phpizeAndPhpConfig();
        $this->workDir = sys_get_temp_dir() . '/mqtt-broadcast-pecl-' . bin2hex(random_bytes(4));
        $source = $this->workDir . '/src';
        $root = $this->workDir . '/root';

        $this->copyCheckout($repo, $source);
        $this->step('phpize', [$phpize], $source);
        $this->step('configure', ['./configure', '--with-php-config=' . $phpConfig], $source);
        // The target directory ./build.sh used ($CARGO_TARGET_DIR when it is set).
        $this->step('make', ['make'], $source, ['CARGO_TARGET_DIR' => getenv('CARGO_TARGET_DIR') ?: $repo . '/target']);
        $this->step('make install', ['make', 'install', 'INSTALL_ROOT=' . $root], $source);

        $extensionDir = trim($this->step('php-config --extension-dir', [$phpConfig, '--extension-dir'], $source));
        $installed = $root . $extensionDir . '/mqtt_broadcast.so';
        self::assertFileExists($installed, "make install INSTALL_ROOT=$root did not install mqtt_broadcast.so into \$INSTALL_ROOT$extensionDir" . $this->describeSteps());
        self::assertFileEquals($source . '/modules/mqtt_broadcast.so', $installed, 'make install installed something else than make built');

        $topic = $this->topic('pecl-install');
        $listener = $this->listen($topic);
        $code = <<<'PHP'
            if (!extension_loaded('mqtt_broadcast') || !class_exists('Mqtt\Client')) {
                fwrite(STDERR, "mqtt_broadcast is not loaded\n");
                exit(1);
            }
            $client = new Mqtt\Client(['host' => $argv[1], 'port' => (int) $argv[2], 'qos' => 1]);
            $client->publishSync($argv[3], 'installed with phpize', timeout: 10.0);
            echo 'mqtt_broadcast ', phpversion('mqtt_broadcast'), ' loaded from ', $argv[4], "\n";
            PHP;
        $output = $this->step(
            'php -n -d extension=<installed>',
            [PHP_BINARY, '-n', '-d', 'extension=' . $installed, '-d', 'display_errors=stderr', '-r', $code, '--',
                self::broker()->host(), (string) self::broker()->port(), $topic, $installed],
            $source
        );

        self::assertStringContainsString('mqtt_broadcast ', $output);
        self::assertSame([[$topic, 'installed with phpize']], $listener->waitFor(1));
    }

    /** phpize and php-config of the PHP running the tests (Debian names them phpize8.2 and php-config8.2 too). */
    private static function phpizeAndPhpConfig(): array
    {
        $suffix = substr(basename(PHP_BINARY), strlen('php'));
        $tools = [];
        foreach (['phpize', 'php-config'] as $tool) {
            $beside = dirname(PHP_BINARY) . "/$tool$suffix";
            $tools[] = is_executable($beside) ? $beside : $tool;
        }
        return $tools;
    }

    /** Copies the files git knows (tracked and new, not ignored ones) with their modification times. */
    private function copyCheckout(string $repo, string $destination): void
    {
        $files = array_filter(
            explode("\0", $this->step('git ls-files', ['git', '-C', $repo, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], $repo)),
            static fn (string $file) => $file !== '' && is_file("$repo/$file") && !str_starts_with($file, 'target/')
        );
        self::assertContains('config.m4', $files, 'git ls-files does not list config.m4');
        foreach ($files as $file) {
            $target = "$destination/$file";
            if (!is_dir(dirname($target))) {
                mkdir(dirname($target), 0777, true);
            }
            copy("$repo/$file", $target);
            chmod($target, fileperms("$repo/$file") & 0777);
            touch($target, filemtime("$repo/$file"));
        }
    }

    /**
     * Runs one step of the build and returns its stdout; fails with the output of
     * every step so far when it exits non-zero or outlives STEP_TIMEOUT.
     *
     * @param list<string> $command
     * @param array<string,string> $env added to ours
     */
    private function step(string $name, array $command, string $cwd, array $env = []): string
    {
        $stdout = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-pecl-out-');
        $stderr = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-pecl-err-');
        $started = microtime(true);
        try {
            $process = new BackgroundProcess(['env', '-C', $cwd, ...$command], $stdout, $stderr, array_merge(getenv(), $env), true);
            $finished = $process->wait(self::STEP_TIMEOUT);
            $process->killGroup();
            $out = (string) file_get_contents($stdout);
            $err = (string) file_get_contents($stderr);
            $this->timings[] = sprintf('%-30s %6.1f s, exit %s', $name, microtime(true) - $started, var_export($finished ? $process->exitCode() : null, true));
            if (!$finished || $process->exitCode() !== 0) {
                Failure::raise(sprintf(
                    "%s %s\n--- stdout ---\n%s\n--- stderr ---\n%s%s",
                    $name,
                    $finished ? "exited with code {$process->exitCode()}" : 'did not finish within ' . self::STEP_TIMEOUT . ' s (a cargo build from scratch instead of reusing target/?)',
                    Failure::tail($out, 40),
                    Failure::tail($err, 40),
                    $this->describeSteps()
                ));
            }
            return $out;
        } finally {
            unlink($stdout);
            unlink($stderr);
        }
    }

    private function describeSteps(): string
    {
        return "\n--- steps ---\n" . implode("\n", $this->timings);
    }
}
