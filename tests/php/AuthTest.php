<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConnectionException;
use Mqtt\MqttException;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpScript;
use MqttBroadcast\Tests\Support\SecureBroker;

/**
 * username / password against a mosquitto with a password file and no anonymous
 * access: a refused CONNACK is reported with its reason, makes publishSync()
 * fail fast, and is retried with backoff until reconnect.max_retries.
 * The password never shows.
 *
 * @group protocol
 */
final class AuthTest extends MqttTestCase
{
    private const USER = 'alice';
    /** Distinctive, so any leak is found by a plain substring search. */
    private const PASSWORD = 'Pw-9f3Kq!zX7-never-shown';
    private const WRONG_PASSWORD = 'Wrong-4bT8-also-never-shown';
    /** Mosquitto 2.0 refuses bad credentials with CONNACK 5 (not authorised); CONNACK 4 is the other refusal. */
    private const REFUSED = '/bad user name or password|not authorized/i';
    private const SYNC_TIMEOUT = 10.0;

    /** One broker per test, so its log counts this test's connection attempts only. */
    private ?SecureBroker $secure = null;

    protected function tearDown(): void
    {
        parent::tearDown();
        $this->secure = null;
    }

    private function secure(): SecureBroker
    {
        return $this->secure ??= SecureBroker::withPasswords([self::USER => self::PASSWORD, 'bob' => 'bobs-password']);
    }

    public function testRightCredentialsConnectAndPublish(): void
    {
        $topic = $this->topic('authenticated');
        $client = $this->client($this->credentials(self::USER, self::PASSWORD));

        $client->publishSync($topic, 'signed in', 1, true, self::SYNC_TIMEOUT);

        $this->assertSame('signed in', $this->secure()->retainedMessage($topic, 'bob', 'bobs-password'));
        $status = $client->status();
        $this->assertSame('connected', $status['state']);
        $this->assertNull($status['last_error'], json_encode($status));
    }

    public function testWrongPasswordFailsFastWithTheReasonAndKeepsRetrying(): void
    {
        $options = $this->credentials(self::USER, self::WRONG_PASSWORD);
        $client = $this->client($options);

        $this->assertPublishSyncFailsFast($client);

        $attempts = $this->refusals();
        $this->assertTrue(
            $this->awaitRefusals($attempts + 2),
            "the connection keeps retrying after a refused CONNACK (refused $attempts times):\n" . $this->secure()->broker()->log()
        );
        $status = $client->status();
        $this->assertContains($status['state'], ['connecting', 'reconnecting'], 'retrying forever, not failed: ' . json_encode($status));
        $this->assertFalse($status['connected']);
        $this->assertIsString($status['last_error']);
        $this->assertMatchesRegularExpression(self::REFUSED, $status['last_error'], 'last_error stays the refusal across attempts');
        $this->assertPublishSyncFailsFast($client);
    }

    public function testNoCredentialsAreNotAuthorized(): void
    {
        $client = $this->client($this->options(['flush_timeout' => 0.2], $this->secure()->broker()));

        $this->assertPublishSyncFailsFast($client);
        $this->assertMatchesRegularExpression(self::REFUSED, (string) $client->status()['last_error']);
    }

    public function testARefusedConnectionFailsForGoodOnceMaxRetriesIsReached(): void
    {
        $client = $this->client($this->credentials(self::USER, self::WRONG_PASSWORD, [
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 1],
        ]));

        $this->assertPublishSyncFailsFast($client);
        $deadline = microtime(true) + 20.0;
        while ($client->status()['state'] !== 'failed' && microtime(true) < $deadline) {
            usleep(50_000);
        }

        $status = $client->status();
        $this->assertSame('failed', $status['state'], json_encode($status));
        $this->assertMatchesRegularExpression(self::REFUSED, (string) $status['last_error']);
        $this->assertPublishSyncFailsFast($client);
        try {
            $client->publish($this->topic('after-failure'), 'refused', 1);
            $this->fail('publish() on a connection that failed for good did not throw');
        } catch (ConnectionException $e) {
            $this->assertMatchesRegularExpression(self::REFUSED, $e->getMessage());
        }
    }

    public function testThePasswordNeverAppearsInMessagesOrStatus(): void
    {
        $good = $this->client($this->credentials(self::USER, self::PASSWORD));
        $good->publishSync($this->topic('hygiene'), 'x', 1, null, self::SYNC_TIMEOUT);
        $bad = $this->client($this->credentials(self::USER, self::WRONG_PASSWORD, [
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.2, 'max_retries' => 1],
        ]));

        $seen = [];
        try {
            $bad->publishSync($this->topic('hygiene'), 'x', 1, null, self::SYNC_TIMEOUT);
        } catch (MqttException $e) {
            $seen[] = get_class($e) . ': ' . $e->getMessage();
        }
        $deadline = microtime(true) + 20.0;
        while ($bad->status()['state'] !== 'failed' && microtime(true) < $deadline) {
            usleep(50_000);
        }
        foreach ([
            fn () => $bad->publish($this->topic('hygiene'), 'x', 1),
            fn () => $bad->publishSync($this->topic('hygiene'), 'x', 1, null, 1.0),
            fn () => new Client(['username' => self::USER, 'password' => self::PASSWORD, 'prot' => 1], 'typo-' . $this->uniq()),
            fn () => new Client(['password' => self::PASSWORD], 'no-user-' . $this->uniq()),
            fn () => new Client(['username' => self::USER, 'password' => [self::PASSWORD]], 'array-' . $this->uniq()),
        ] as $call) {
            try {
                $call();
            } catch (MqttException $e) {
                $seen[] = get_class($e) . ': ' . $e->getMessage();
            }
        }
        $this->assertGreaterThanOrEqual(4, count($seen), 'the calls above throw: ' . implode("\n", $seen));
        $seen[] = json_encode([$good->status(), $bad->status(), Client::connections()]);
        $seen[] = print_r($good, true) . var_export($bad, true);
        ob_start();
        var_dump($good, $bad);
        $seen[] = (string) ob_get_clean();

        foreach ($seen as $text) {
            $this->assertStringNotContainsString(self::PASSWORD, $text);
            $this->assertStringNotContainsString(self::WRONG_PASSWORD, $text);
        }
    }

    public function testThePasswordNeverAppearsInWhatAProcessPrintsAtExit(): void
    {
        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'refused-at-exit');
            $client->publish('test/auth/left-behind', 'undeliverable', 1);
            try {
                $client->publishSync('test/auth/left-behind', 'undeliverable', 1, null, 5.0);
            } catch (Mqtt\MqttException $e) {
                echo get_class($e), ': ', $e->getMessage(), "\n";
            }
            print_r($client->status());
            PHP, var_export($this->credentials(self::USER, self::WRONG_PASSWORD, ['flush_timeout' => 0.5]), true)));

        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertMatchesRegularExpression(self::REFUSED, $result->stdout, $result->describe());
        $this->assertStringNotContainsString(self::WRONG_PASSWORD, $result->stdout . $result->stderr);
    }

    /** @return array<string,mixed> */
    private function credentials(string $user, string $password, array $overrides = []): array
    {
        return $this->options(array_replace([
            'username' => $user,
            'password' => $password,
            'flush_timeout' => 0.2,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.5, 'max_retries' => 0],
        ], $overrides), $this->secure()->broker());
    }

    private function assertPublishSyncFailsFast(Client $client): void
    {
        $started = microtime(true);
        try {
            $client->publishSync($this->topic('refused'), 'never delivered', 1, null, self::SYNC_TIMEOUT);
            $this->fail('publishSync() with refused credentials returned');
        } catch (TimeoutException $e) {
            $this->fail('publishSync() timed out instead of failing fast with the refusal: ' . $e->getMessage()
                . "\nstatus: " . json_encode($client->status()));
        } catch (ConnectionException $e) {
            $this->assertMatchesRegularExpression(self::REFUSED, $e->getMessage());
        }
        $this->assertLessThan(self::SYNC_TIMEOUT, microtime(true) - $started);
    }

    /** CONNACKs the broker refused so far: return code 4 or 5 (MQTT 3.1.1), reason 134 or 135 (MQTT 5). */
    private function refusals(): int
    {
        return count($this->secure()->broker()->refusedForCredentials());
    }

    private function awaitRefusals(int $count, float $timeout = 20.0): bool
    {
        $deadline = microtime(true) + $timeout;
        while ($this->refusals() < $count) {
            if (microtime(true) >= $deadline) {
                return false;
            }
            usleep(50_000);
        }
        return true;
    }
}
