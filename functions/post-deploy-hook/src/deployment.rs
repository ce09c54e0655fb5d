//! Which function a CodeDeploy deployment is moving: the deployment names
//! its application revision, whose AppSpec (JSON or YAML) names the Lambda
//! function, its alias and the versions. Anything unexpected is an error:
//! the hook fails closed when it cannot tell what it is checking.

use aws_sdk_codedeploy::error::DisplayErrorContext;
use yaml_rust2::{Yaml, YamlLoader};

/// The Lambda function and target version a deployment moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub function: String,
    pub target_version: Option<String>,
}

fn sdk_error(call: &str, e: impl std::error::Error) -> String {
    let detail = DisplayErrorContext(e).to_string();
    format!(
        "{call} failed: {}",
        detail.chars().take(300).collect::<String>()
    )
}

pub async fn deployed_function(
    client: &aws_sdk_codedeploy::Client,
    deployment_id: &str,
) -> Result<Deployed, String> {
    let deployment = client
        .get_deployment()
        .deployment_id(deployment_id)
        .send()
        .await
        .map_err(|e| sdk_error("GetDeployment", e))?;
    let info = deployment
        .deployment_info()
        .ok_or("GetDeployment answered no deployment")?;
    let revision = info
        .revision()
        .ok_or("the deployment has no application revision")?;
    let inline = revision
        .app_spec_content()
        .and_then(|c| c.content())
        .map(str::to_owned);
    let content = match inline {
        Some(content) => content,
        None => {
            let application = info
                .application_name()
                .ok_or("the deployment names no application")?;
            let stored = client
                .get_application_revision()
                .application_name(application)
                .revision(revision.clone())
                .send()
                .await
                .map_err(|e| sdk_error("GetApplicationRevision", e))?;
            let revision = stored.revision().ok_or("the revision has no content")?;
            revision
                .app_spec_content()
                .and_then(|c| c.content())
                .or_else(|| revision.string().and_then(|s| s.content()))
                .ok_or("the revision has no AppSpec content")?
                .to_owned()
        }
    };
    from_appspec(&content)
}

/// The function an AppSpec deploys (its one `AWS::Lambda::Function`).
pub fn from_appspec(content: &str) -> Result<Deployed, String> {
    let docs = YamlLoader::load_from_str(content).map_err(|_| "the AppSpec is not YAML or JSON")?;
    let spec = docs.first().ok_or("the AppSpec is empty")?;
    let functions: Vec<&Yaml> = spec["Resources"]
        .as_vec()
        .ok_or("the AppSpec has no Resources list")?
        .iter()
        .filter_map(|r| r.as_hash()?.values().next())
        .filter(|r| r["Type"].as_str() == Some("AWS::Lambda::Function"))
        .collect();
    let [function] = functions.as_slice() else {
        return Err(format!(
            "the AppSpec deploys {} Lambda functions, expected one",
            functions.len()
        ));
    };
    let props = &function["Properties"];
    let name = props["Name"]
        .as_str()
        .ok_or("the AppSpec's function has no Name")?;
    // A full ARN names the function after `:function:`.
    let name = match name.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name,
    };
    let version = match &props["TargetVersion"] {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    };
    Ok(Deployed {
        function: name.to_owned(),
        target_version: version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appspec_names_the_function_in_json_or_yaml() {
        let json = r#"{"version":0.0,"Resources":[{"HealthFunction":{"Type":"AWS::Lambda::Function","Properties":{"Name":"valdrix-HealthFunction-Ab12","Alias":"live","CurrentVersion":"3","TargetVersion":"4"}}}]}"#;
        assert_eq!(
            from_appspec(json),
            Ok(Deployed {
                function: "valdrix-HealthFunction-Ab12".into(),
                target_version: Some("4".into())
            })
        );
        let yaml = "version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: arn:aws:lambda:us-east-1:123456789012:function:valdrix-Admin-Cd34:live\n        Alias: live\n        TargetVersion: 7\n";
        assert_eq!(from_appspec(yaml).unwrap().function, "valdrix-Admin-Cd34");
        assert_eq!(
            from_appspec(yaml).unwrap().target_version.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn anything_else_is_an_error() {
        assert!(from_appspec("}").is_err());
        assert!(
            from_appspec(r#"{"Resources":[]}"#)
                .unwrap_err()
                .contains("0 Lambda")
        );
        assert!(
            from_appspec(
                r#"{"Resources":[{"a":{"Type":"AWS::Lambda::Function","Properties":{}}}]}"#
            )
            .is_err()
        );
    }
}
