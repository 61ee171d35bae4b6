<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests;

use Illuminate\Container\Container;
use Illuminate\Contracts\Console\Kernel;
use Illuminate\Foundation\Application;
use Illuminate\Support\Facades\Facade;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpResult;
use MqttBroadcast\Tests\Support\PhpScript;
use MqttBroadcast\Tests\Support\TempDir;

/**
 * Base of the package's tests: the extension's MqttTestCase (one real Mosquitto
 * per test class, unique topics, independent mosquitto_sub listeners) plus the
 * test application in tests/app, booted in this process or run as artisan
 * child processes, with a fresh directory per test for its storage, cache
 * and SQLite database.
 */
abstract class TestCase extends MqttTestCase
{
    protected const ARTISAN = __DIR__ . '/app/artisan';

    protected string $appDir;
    private ?Application $app = null;
    /** @var list<string> variables bootApp() put into this process's environment */
    private array $putEnv = [];
    /** @var list<DaemonProcess> */
    private array $daemons = [];

    protected function setUp(): void
    {
        parent::setUp();
        $this->appDir = sys_get_temp_dir() . '/mqtt-broadcast-laravel-' . bin2hex(random_bytes(6));
        foreach (['storage/logs', 'storage/framework/cache/data', 'storage/framework/views', 'storage/framework/sessions', 'database'] as $dir) {
            mkdir("{$this->appDir}/$dir", 0777, true);
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->daemons as $daemon) {
            $daemon->kill();
        }
        $this->daemons = [];
        if ($this->app !== null) {
            $this->app->flush();
            $this->app = null;
            Facade::clearResolvedInstances();
            Facade::setFacadeApplication(null);
            Container::setInstance(null);
        }
        // bootstrap/app.php sets these two itself.
        foreach ([...$this->putEnv, 'APP_SERVICES_CACHE', 'APP_PACKAGES_CACHE'] as $name) {
            putenv($name);
            unset($_ENV[$name], $_SERVER[$name]);
        }
        $this->putEnv = [];
        TempDir::remove($this->appDir);
        parent::tearDown();
    }

    /**
     * The environment of the test application: the shared broker, this test's
     * directory, environment "testing"; $overrides win.
     *
     * @param array<string, string> $overrides
     * @return array<string, string>
     */
    protected function appEnv(array $overrides = []): array
    {
        return array_replace([
            'MQTT_BROADCAST_APP_DIR' => $this->appDir,
            'APP_ENV' => 'testing',
            'MQTT_HOST' => static::broker()->host(),
            'MQTT_PORT' => (string) static::broker()->port(),
            'MQTT_BACKUP_PORT' => (string) static::broker()->port(),
        ], $overrides);
    }

    /**
     * Boots the test application in this process, as the console kernel does.
     *
     * @param array<string, string> $env see appEnv()
     */
    protected function bootApp(array $env = []): Application
    {
        foreach ($this->appEnv($env) as $name => $value) {
            putenv("$name=$value");
            $this->putEnv[] = $name;
        }
        $this->app = require __DIR__ . '/app/bootstrap/app.php';
        $this->app->make(Kernel::class)->bootstrap();
        return $this->app;
    }

    /**
     * Runs `php artisan ...` of the test application in a child process.
     *
     * @param list<string> $arguments
     * @param array<string, string> $env see appEnv()
     */
    protected function artisan(array $arguments, array $env = [], float $timeout = 30.0, string $artisan = self::ARTISAN): PhpResult
    {
        return PhpScript::runFile($artisan, $arguments, $this->appEnv($env), $timeout);
    }

    /**
     * Runs `php -n` with only the extensions Laravel and PHPUnit need (what a
     * CI runner without mqtt_broadcast has), in the test application's environment.
     *
     * @param list<string> $arguments the script and its arguments
     * @param array<string, string> $env see appEnv()
     */
    protected function phpWithoutExtension(array $arguments, array $env = [], float $timeout = 60.0): PhpResult
    {
        $extensions = ['ctype', 'dom', 'fileinfo', 'intl', 'mbstring', 'pdo', 'pdo_sqlite', 'posix', 'tokenizer', 'xml', 'xmlwriter'];
        $command = [PHP_BINARY, '-n', '-d', 'display_errors=stderr', '-d', 'error_reporting=-1'];
        foreach ($extensions as $extension) {
            array_push($command, '-d', "extension=$extension");
        }
        $stdout = "{$this->appDir}/php-n.out";
        $stderr = "{$this->appDir}/php-n.err";
        $process = new BackgroundProcess(array_merge($command, $arguments), $stdout, $stderr, array_merge(getenv(), $this->appEnv($env)), true);
        $finished = $process->wait($timeout);
        $process->killGroup();
        $result = new PhpResult($finished ? (int) $process->exitCode() : null, (string) file_get_contents($stdout), (string) file_get_contents($stderr));
        if (!$finished) {
            Failure::raise("php -n did not finish within {$timeout}s\n" . $result->describe());
        }
        return $result;
    }

    /**
     * Starts `php artisan mqtt-broadcast` and waits until it listens.
     *
     * @param array<string, string> $env see appEnv()
     * @param list<string> $arguments
     */
    protected function startDaemon(array $env = [], array $arguments = [], string $artisan = self::ARTISAN): DaemonProcess
    {
        $daemon = DaemonProcess::start($artisan, $arguments, $this->appEnv($env), $this->appDir);
        $this->daemons[] = $daemon;
        $daemon->waitForOutput('/Listening\./');
        return $daemon;
    }

    /** Lines of the test application's laravel.log (what the exception handler and the daemon logged). */
    protected function laravelLog(): string
    {
        $file = "{$this->appDir}/storage/logs/laravel.log";
        return is_file($file) ? (string) file_get_contents($file) : '';
    }
}
