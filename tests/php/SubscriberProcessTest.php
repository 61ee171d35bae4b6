<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;
use MqttBroadcast\Tests\Support\StreamPublisher;

/**
 * Subscribers as separate processes, the way daemons run them: killed with
 * SIGKILL, stopped with SIGTERM, sharing a $share group, failing in a handler.
 *
 * @group protocol
 */
final class SubscriberProcessTest extends MqttTestCase
{
    public function testPersistentSubscriberKilledMidStreamGetsTheUnacknowledgedMessagesAgain(): void
    {
        $broker = Broker::start();
        $clientId = 'killed-' . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $topic = $this->topic('work');

        $first = $this->startSubscriber($options, $topic, <<<'PHP'
            $subscriber->loop(function (Mqtt\Message $m): void {
                echo "got {$m->payload}\n";
                if ($m->payload === 'm-300') {
                    echo "blocking\n";
                    sleep(600);
                }
                usleep(2000);
                echo "done {$m->payload}\n";
            });
            PHP);
        $this->awaitSubscription($broker, $clientId, $first);

        $published = array_map(fn ($i) => "m-$i", range(1, 1000));
        $publisher = StreamPublisher::start($broker, $topic, $published);
        $first->waitForLine('blocking', 30);
        $first->kill();
        $this->assertSame(128 + SIGKILL, $first->exitCode());
        $publisher->wait();

        // Published while no subscriber runs: the broker keeps them in the session.
        $later = array_map(fn ($i) => "m-$i", range(1001, 1500));
        StreamPublisher::start($broker, $topic, [...$later, 'end'])->wait();
        $published = [...$published, ...$later, 'end'];

        $second = $this->startSubscriber($options, $topic, <<<'PHP'
            $subscriber->loop(function (Mqtt\Message $m) use ($subscriber): void {
                echo "done {$m->payload}", $m->duplicate ? ' duplicate' : '', "\n";
                if ($m->payload === 'end') {
                    $subscriber->stop();
                }
            }, timeout: 60.0);
            echo "stopped\n";
            PHP);
        $second->waitForLine('stopped', 60);
        $this->assertTrue($second->wait(20), 'the second run ends after its loop: ' . $second->describe());
        $this->assertSame(0, $second->exitCode(), $second->describe());

        $firstDone = $this->linesAfter('done ', $first->lines());
        $firstGot = $this->linesAfter('got ', $first->lines());
        $secondDone = array_map(fn ($l) => preg_replace('/ duplicate$/', '', $l), $this->linesAfter('done ', $second->lines()));
        $this->assertContains('m-300', $firstGot);
        $this->assertNotContains('m-300', $firstDone, 'the first run was killed inside the handler of m-300');
        $this->assertContains('m-300', $secondDone, 'the message whose handler never returned came again');
        $this->assertContains('m-300 duplicate', $this->linesAfter('done ', $second->lines()), 'and the broker marked it as a re-delivery');

        $missing = array_values(array_diff($published, $firstDone, $secondDone));
        $this->assertSame([], array_slice($missing, 0, 20), sprintf(
            "%d of %d messages were handled by neither run\nfirst: %s\nsecond: %s\nbroker log:\n%s",
            count($missing),
            count($published),
            $first->describe(),
            $second->describe(),
            Failure::tail($broker->log(), 40)
        ));
        $this->assertSame([], array_values(array_diff($secondDone, $published)), 'nothing handled that was not published');
        $this->assertSame([], array_values(array_intersect($firstDone, $secondDone)), 'what the first run acknowledged did not come again');
    }

    /** @return iterable<string, array{string}> */
    public static function blockingCalls(): iterable
    {
        yield 'loop()' => ['$handled = $subscriber->loop(function (Mqtt\Message $m): void { echo "handled {$m->payload}\n"; });'];
        yield 'next()' => [<<<'PHP'
            $handled = 0;
            while (($m = $subscriber->next()) !== null) {
                echo "handled {$m->payload}\n";
                $handled++;
            }
            PHP];
    }

    /** @dataProvider blockingCalls */
    public function testSigtermHandlerCallingStopEndsABlockingWait(string $blockingCall): void
    {
        $broker = static::broker();
        $clientId = 'sigterm-' . $this->uniq();
        $topic = $this->topic('signals');
        $child = $this->startSubscriber($this->options(['client_id' => $clientId]), $topic, <<<PHP
            pcntl_async_signals(true);
            pcntl_signal(SIGTERM, function () use (\$subscriber): void {
                echo "SIGTERM\\n";
                \$subscriber->stop();
            });
            echo "waiting\\n";
            $blockingCall
            echo "returned after \$handled\\n";
            exit(0);
            PHP);
        $this->awaitSubscription($broker, $clientId, $child);
        $child->waitForLine('waiting');
        foreach (range(1, 5) as $i) {
            $broker->mosquittoPub($topic, "s-$i");
        }
        $child->waitForLine('handled s-5');

        // Idle in the blocking wait, with no message coming: only the signal can end it.
        $child->signal(SIGTERM);
        $this->assertTrue($child->wait(10), 'still running 10 s after SIGTERM: ' . $child->describe());
        $this->assertSame(0, $child->exitCode(), $child->describe());
        $this->assertSame(
            ['subscribed', 'waiting', 'handled s-1', 'handled s-2', 'handled s-3', 'handled s-4', 'handled s-5', 'SIGTERM', 'returned after 5'],
            $child->lines(),
            $child->describe()
        );
    }

    public function testThreeProcessesInOneSharedGroupSplitTheStreamLosingNothing(): void
    {
        $broker = Broker::start();
        $topic = $this->topic('jobs');
        $workers = [];
        foreach (['a', 'b', 'c'] as $name) {
            $clientId = "worker-$name-" . $this->uniq();
            $workers[$name] = $this->startSubscriber($this->options(['client_id' => $clientId], $broker), '$share/workers/' . $topic . '/+', <<<'PHP'
                pcntl_async_signals(true);
                pcntl_signal(SIGTERM, fn () => $subscriber->stop());
                $handled = $subscriber->loop(function (Mqtt\Message $m): void {
                    echo "handled {$m->topic} {$m->payload}\n";
                });
                echo "stopped after $handled\n";
                PHP);
            $this->awaitSubscription($broker, $clientId, $workers[$name]);
        }

        $published = [];
        $publishers = [];
        foreach (['x', 'y'] as $sub) {
            $payloads = array_map(fn ($i) => "$sub-$i", range(1, 1500));
            $publishers[] = StreamPublisher::start($broker, "$topic/$sub", $payloads);
            foreach ($payloads as $payload) {
                $published[] = "$topic/$sub $payload";
            }
        }
        foreach ($publishers as $publisher) {
            $publisher->wait();
        }

        $handled = fn () => array_merge(...array_map(fn (PhpChild $w) => $this->linesAfter('handled ', $w->lines()), array_values($workers)));
        $deadline = microtime(true) + 60;
        while (count($handled()) < count($published) && microtime(true) < $deadline) {
            usleep(20_000);
        }
        foreach ($workers as $name => $worker) {
            $worker->signal(SIGTERM);
        }
        foreach ($workers as $name => $worker) {
            $this->assertTrue($worker->wait(10), "worker $name still running 10 s after SIGTERM: " . $worker->describe());
            $this->assertSame(0, $worker->exitCode(), "worker $name: " . $worker->describe());
        }

        $all = $handled();
        $missing = array_values(array_diff($published, $all));
        $this->assertSame([], array_slice($missing, 0, 20), sprintf('%d of %d messages were handled by no worker', count($missing), count($published)));
        $this->assertSameMultiset($published, $all, 'each message handled by exactly one worker');
        foreach ($workers as $name => $worker) {
            $mine = $this->linesAfter('handled ', $worker->lines());
            $this->assertNotEmpty($mine, "worker $name got a share");
            $this->assertSame('stopped after ' . count($mine), $worker->lines()[count($worker->lines()) - 1]);
            // Within one worker, each topic's messages keep their order.
            foreach (['x', 'y'] as $sub) {
                $numbers = array_map(fn ($l) => (int) substr($l, strrpos($l, '-') + 1), preg_grep("#^\\Q$topic/$sub\\E #", $mine));
                $sorted = $numbers;
                sort($sorted);
                $this->assertSame($sorted, array_values($numbers), "worker $name, topic $sub: in order");
            }
        }
    }

    public function testMessageWhoseHandlerThrewComesAgainInTheNextProcess(): void
    {
        $broker = Broker::start();
        $clientId = 'thrower-' . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $topic = $this->topic('poison');

        $first = $this->startSubscriber($options, $topic, <<<'PHP'
            final class Poisoned extends LogicException {}
            $thrown = new Poisoned('cannot handle this', 7);
            try {
                $subscriber->loop(function (Mqtt\Message $m) use ($thrown): void {
                    echo "got {$m->payload}\n";
                    throw $thrown;
                });
                echo "loop returned\n";
            } catch (Throwable $caught) {
                printf("caught %s \"%s\" %d same=%s\n", get_class($caught), $caught->getMessage(), $caught->getCode(), var_export($caught === $thrown, true));
            }
            PHP);
        $this->awaitSubscription($broker, $clientId, $first);
        $broker->mosquittoPub($topic, 'poison-pill');
        $this->assertTrue($first->wait(20), $first->describe());
        $this->assertSame(0, $first->exitCode(), $first->describe());
        $this->assertSame(['subscribed', 'got poison-pill', 'caught Poisoned "cannot handle this" 7 same=true'], $first->lines(), $first->describe());

        $second = $this->startSubscriber($options, $topic, <<<'PHP'
            $m = $subscriber->next(20.0);
            echo $m === null ? "nothing\n" : "got {$m->payload} duplicate=" . var_export($m->duplicate, true) . "\n";
            PHP);
        $this->assertTrue($second->wait(30), $second->describe());
        $this->assertSame(['subscribed', 'got poison-pill duplicate=true'], $second->lines(), $second->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 40));
    }

    public function testPersistentSubscriberGetsWhatWasPublishedWhileItsProcessWasStopped(): void
    {
        $broker = Broker::start();
        $clientId = 'daemon-' . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $topic = $this->topic('orders');
        $handleOne = <<<'PHP'
            $subscriber->loop(function (Mqtt\Message $m): void {
                echo "handled {$m->payload}\n";
            }, timeout: 20.0, limit: 1);
            PHP;

        $first = $this->startSubscriber($options, $topic, $handleOne);
        $this->awaitSubscription($broker, $clientId, $first);
        $broker->mosquittoPub($topic, 'while-running');
        $this->assertTrue($first->wait(30), $first->describe());
        $this->assertSame(['subscribed', 'handled while-running'], $first->lines(), $first->describe());

        // The daemon ended normally; its session stays at the broker and keeps this.
        $broker->mosquittoPub($topic, 'while-stopped');

        $second = $this->startSubscriber($options, $topic, $handleOne);
        $this->assertTrue($second->wait(30), $second->describe());
        $this->assertSame(['subscribed', 'handled while-stopped'], $second->lines(), $second->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 40));
    }

    public function testSessionMessagesWaitForASubscriberMadeAfterTheConnectionIsUp(): void
    {
        $broker = Broker::start();
        $clientId = 'late-' . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $topic = $this->topic('kept');

        $first = $this->startSubscriber($options, $topic, 'sleep(600);');
        $this->awaitSubscription($broker, $clientId, $first);
        $first->kill();
        // More than mosquitto sends unacknowledged at once (20).
        $kept = array_map(fn ($i) => "kept-$i", range(1, 25));
        StreamPublisher::start($broker, $topic, $kept)->wait();

        // The application opens its client first (say, to publish) and subscribes a moment later.
        $second = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'subscriber');
            $deadline = microtime(true) + 10;
            while (!$client->status()['connected'] && microtime(true) < $deadline) {
                usleep(5000);
            }
            echo $client->status()['connected'] ? "connected\n" : "not connected\n";
            usleep(500000);
            $subscriber = new Mqtt\Subscriber([$client]);
            $subscriber->subscribe(%s, 1, 10.0);
            echo "subscribed\n";
            $subscriber->loop(function (Mqtt\Message $m): void {
                echo "got {$m->payload}\n";
            }, timeout: 20.0, limit: 26);
            PHP, var_export($options, true), var_export($topic, true)));
        $second->waitForLine('subscribed');
        $broker->mosquittoPub($topic, 'fresh');
        $this->assertTrue($second->wait(30), $second->describe());
        $got = $this->linesAfter('got ', $second->lines());
        $this->assertSame(
            [],
            array_values(array_diff([...$kept, 'fresh'], $got)),
            "the messages the broker kept in the session reach a subscriber made once the connection is up\n"
                . $second->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 20)
        );
    }

    public function testSessionMessagesForAFilterTheNextProcessNoLongerWantsDoNotStallIt(): void
    {
        $broker = Broker::start();
        $clientId = 'changed-' . $this->uniq();
        $options = $this->options(['client_id' => $clientId, 'clean_session' => false], $broker);
        $old = $this->topic('old');
        $current = $this->topic('current');

        // The previous version of the application subscribed to both and ended normally.
        $first = $this->startSubscriber($options, $current, <<<PHP
            \$subscriber->subscribe('$old', 1, 10.0);
            echo "both\\n";
            PHP);
        $this->assertTrue($first->wait(20), $first->describe());
        $this->assertSame(['subscribed', 'both'], $first->lines(), $first->describe());

        // The new version only wants "current"; the session still holds "old".
        $second = $this->startSubscriber($options, $current, <<<'PHP'
            $m = $subscriber->next(15.0);
            echo $m === null ? "nothing\n" : "got {$m->payload}\n";
            PHP);
        $this->awaitSubscription($broker, $clientId, $second);
        // More than mosquitto sends unacknowledged at once (20), then one that is wanted.
        StreamPublisher::start($broker, $old, array_map(fn ($i) => "old-$i", range(1, 25)))->wait();
        $broker->mosquittoPub($current, 'wanted');

        $this->assertTrue($second->wait(30), $second->describe());
        $this->assertSame(['subscribed', 'got wanted'], $second->lines(), $second->describe() . "\nbroker log of the client:\n"
            . Failure::tail(implode("\n", $broker->logLinesMatching('/' . preg_quote($clientId, '/') . '/')), 12));
    }

    /**
     * A child PHP process that subscribes to $filter with QoS 1 through a
     * client with $options, prints "subscribed", then runs $body, which sees
     * $client and $subscriber.
     */
    private function startSubscriber(array $options, string $filter, string $body): PhpChild
    {
        return PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'subscriber');
            $subscriber = new Mqtt\Subscriber([$client]);
            $subscriber->subscribe(%s, 1, 10.0);
            echo "subscribed\n";
            %s
            PHP, var_export($options, true), var_export($filter, true), $body));
    }

    /** Waits until the broker confirmed a subscription of $clientId, as its log says: publishing before that could go unseen. */
    private function awaitSubscription(Broker $broker, string $clientId, PhpChild $child): void
    {
        $child->waitForLine('subscribed');
        $deadline = microtime(true) + 20;
        while ($broker->subscribes($clientId) === []) {
            if (microtime(true) >= $deadline || !$child->isRunning()) {
                Failure::raise("the broker never confirmed a subscription of $clientId\n" . $child->describe() . "\nbroker log:\n" . Failure::tail($broker->log(), 30));
            }
            usleep(10_000);
        }
    }

    /** @return list<string> the rest of each line starting with $prefix */
    private function linesAfter(string $prefix, array $lines): array
    {
        $rest = [];
        foreach ($lines as $line) {
            if (str_starts_with($line, $prefix)) {
                $rest[] = substr($line, strlen($prefix));
            }
        }
        return $rest;
    }
}
