// Package docs holds the site's deployment guide (DEPLOY.md) and the test that runs every
// command in it (TestDeployDoc), so that the guide cannot drift from what airlock does.
package docs
